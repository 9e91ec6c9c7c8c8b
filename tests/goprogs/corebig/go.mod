module corebig

go 1.21
