module corecrash

go 1.21
