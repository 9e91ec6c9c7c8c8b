module corefile

go 1.21
