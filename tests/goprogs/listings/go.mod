module listings

go 1.21
