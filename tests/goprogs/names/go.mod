module names

go 1.21
