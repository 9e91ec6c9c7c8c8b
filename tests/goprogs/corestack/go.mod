module corestack

go 1.21
