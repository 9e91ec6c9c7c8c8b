// corefile: a known heap for reading the process's core file. It builds a few thousand objects
// of many size classes (tiny, small with and without pointers, with malloc headers, large),
// holds them in globals, drops every other one before a GC so that spans have free slots
// between live ones, writes a heap dump to os.Args[1], prints its facts (pid included) as one
// JSON line and then blocks without allocating, so that a test can take its core with
// `gcore PID` and compare the core's heap with the dump's. Usage: corefile DUMPFILE.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"
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

type Page struct { // 8000 bytes, pointerful
	P   *Node
	Pad [999]int
}

type Large struct { // 40000 bytes, pointerful: a large object (its own span)
	P   *Page
	Pad [4999]int
}

var (
	nodes    []*Node
	mids     []*Mid
	headers  []*WithHeader
	pages    []*Page
	larges   []*Large
	bytesets [][]byte
	names    []string
	table    map[string]*Node
	huge     []byte
	afterGC  []interface{}
)

// counts of what each global holds, for the facts line
var counts = map[string]int{}

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
	for i := 0; i < 40; i++ {
		pages = append(pages, &Page{P: nodes[i]})
	}
	for i := 0; i < 12; i++ {
		l := &Large{P: pages[i%len(pages)]}
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
	counts["nodes"] = len(nodes)
	counts["mids"] = len(mids)
	counts["headers"] = len(headers)
	counts["pages"] = len(pages)
	counts["larges"] = len(larges)
	counts["bytesets"] = len(bytesets)
	counts["names"] = len(names)
	counts["table"] = len(table)
	counts["garbage"] = len(garbage)
	runtime.KeepAlive(garbage)
}

func main() {
	build()
	// A goroutine asleep keeps the process from being "deadlocked" once main blocks; its timer
	// (and the timer heap of its P) is allocated now, not after the dump.
	go func() {
		for {
			time.Sleep(time.Hour)
		}
	}()
	time.Sleep(10 * time.Millisecond)
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	facts := map[string]interface{}{
		"pid":     os.Getpid(),
		"goarch":  runtime.GOARCH,
		"version": runtime.Version(),
		"counts":  counts,
		"huge":    fmt.Sprintf("%#x", &huge[0]),
		"larges":  fmt.Sprintf("%p", larges[0]),
	}
	counts["after_gc"] = 3 * 300
	line, _ := json.Marshal(facts)
	line = append(line, '\n')
	runtime.GC()
	// Objects allocated since the GC have no allocation bit: only the spans' free index says
	// they are there.
	for i := 0; i < 300; i++ {
		afterGC = append(afterGC, &Node{ID: i}, &Mid{}, make([]byte, 48+i%3*100))
	}
	debug.WriteHeapDump(f.Fd())
	// From here on nothing allocates: the core shows the heap the dump shows.
	f.Close()
	os.Stdout.Write(line)
	select {}
}
