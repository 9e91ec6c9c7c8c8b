// corecrash: a known heap, then a crash. It builds a few thousand objects of many size classes
// held by globals (tiny, small with and without pointers, with a malloc header, large), drops
// every other one before a GC, writes a heap dump to os.Args[1], prints its facts (pid and the
// addresses of a few objects held by globals) as one JSON line and then dereferences a nil
// pointer. Run with GOTRACEBACK=crash (and a core size limit above 0), the runtime prints every
// goroutine's stack and aborts with SIGABRT: the kernel writes the core, whose heap a test
// compares with the dump's. Usage: corecrash DUMPFILE.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
)

type Node struct { // 32 bytes, pointerful
	Next *Node
	Name string
	ID   int
}

type Mid struct { // 128 bytes, pointerful
	P   *Node
	Pad [15]int
}

type WithHeader struct { // 1024 bytes, pointerful: a malloc header on Go 1.22+
	P   *Mid
	Pad [127]int
}

type Large struct { // 40000 bytes, pointerful: a large object (its own span)
	P   *Node
	Pad [4999]int
}

var (
	nodes    []*Node
	mids     []*Mid
	headers  []*WithHeader
	larges   []*Large
	bytesets [][]byte
	names    []string
	table    map[string]*Node
	huge     []byte
	nothing  *Node // nil: main dereferences it
)

func build() {
	var garbage []interface{}
	for i := 0; i < 3000; i++ {
		n := &Node{Name: "node-" + strconv.Itoa(i), ID: i}
		if len(nodes) > 0 {
			n.Next = nodes[len(nodes)-1]
		}
		if i%2 == 0 {
			nodes = append(nodes, n)
		} else {
			garbage = append(garbage, n)
		}
	}
	for i := 0; i < 600; i++ {
		m := &Mid{P: nodes[i%len(nodes)]}
		if i%2 == 0 {
			mids = append(mids, m)
		} else {
			garbage = append(garbage, m)
		}
	}
	for i := 0; i < 200; i++ {
		h := &WithHeader{P: mids[i%len(mids)]}
		if i%2 == 0 {
			headers = append(headers, h)
		} else {
			garbage = append(garbage, h)
		}
	}
	for i := 0; i < 12; i++ {
		l := &Large{P: nodes[i]}
		if i%3 != 2 {
			larges = append(larges, l)
		} else {
			garbage = append(garbage, l)
		}
	}
	for i, size := range []int{8, 24, 100, 700, 3000, 20000, 70000} {
		for j := 0; j < 30; j++ {
			b := make([]byte, size)
			b[0] = byte(i + j)
			bytesets = append(bytesets, b)
		}
	}
	for i := 0; i < 500; i++ {
		names = append(names, fmt.Sprintf("name-%d", i))
	}
	table = make(map[string]*Node)
	for i := 0; i < 400; i++ {
		table[names[i]] = nodes[i]
	}
	huge = make([]byte, 3<<20)
	huge[len(huge)-1] = 1
	runtime.KeepAlive(garbage)
}

func main() {
	build()
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	facts := map[string]interface{}{
		"pid":     os.Getpid(),
		"goarch":  runtime.GOARCH,
		"version": runtime.Version(),
		"huge":    fmt.Sprintf("%#x", &huge[0]),
		"larges":  fmt.Sprintf("%p", larges[0]),
		"mids":    fmt.Sprintf("%p", mids[7]),
		"headers": fmt.Sprintf("%p", headers[3]),
		"node":    fmt.Sprintf("%p", nodes[100]),
	}
	line, _ := json.Marshal(facts)
	line = append(line, '\n')
	runtime.GC()
	debug.WriteHeapDump(f.Fd())
	// From here on the program allocates nothing of its own: the core shows the dump's heap
	// but for what the crash itself does.
	f.Close()
	os.Stdout.Write(line)
	fmt.Fprintln(os.Stderr, nothing.ID) // nil pointer dereference: SIGSEGV, then SIGABRT
}
