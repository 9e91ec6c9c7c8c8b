module github.com/heapspurs/heapspurs/go/heapdump

go 1.21
