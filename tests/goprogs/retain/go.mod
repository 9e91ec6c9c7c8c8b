module retain

go 1.21
