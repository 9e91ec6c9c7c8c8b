module example.com/leakyservice

go 1.21

require github.com/heapspurs/heapspurs/go/heapdump v0.0.0

replace github.com/heapspurs/heapspurs/go/heapdump => ../../go/heapdump
