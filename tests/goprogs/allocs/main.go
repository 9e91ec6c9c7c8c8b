// allocs: every allocation sampled (MemProfileRate = 1 before anything is allocated), objects
// leaked from two known functions at known lines. Usage: allocs DUMPFILE [EXTRA]: EXTRA more
// items leak from leakItems, so that two dumps differ by exactly that many items. It prints the
// functions, files and lines of the allocations and the leaked objects' addresses as JSON.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"unsafe"
)

func init() { runtime.MemProfileRate = 1 }

type Item struct {
	ID   int
	Next *Item
	Tag  [4]int64
}

var items []*Item
var buffers [][]byte

// line is the line of its caller: written on the same line as an allocation, it names it.
func line() int {
	_, _, l, _ := runtime.Caller(1)
	return l
}

//go:noinline
func leakItems(n int) (string, int) {
	at := 0
	for i := 0; i < n; i++ {
		it, l := &Item{ID: i}, line()
		items = append(items, it)
		at = l
	}
	return "main.leakItems", at
}

//go:noinline
func leakBuffers(n int) (string, int) {
	at := 0
	for i := 0; i < n; i++ {
		b, l := make([]byte, 2000+i%3), line()
		buffers = append(buffers, b)
		at = l
	}
	return "main.leakBuffers", at
}

type fact map[string]interface{}

func main() {
	extra := 0
	if len(os.Args) > 2 {
		extra, _ = strconv.Atoi(os.Args[2])
	}
	items = make([]*Item, 0, 4096)
	buffers = make([][]byte, 0, 4096)
	fnA, lineA := leakItems(1000 + extra)
	fnB, lineB := leakBuffers(300)
	_, file, _, _ := runtime.Caller(0)
	addrs := []string{}
	for _, it := range items[:5] {
		addrs = append(addrs, fmt.Sprintf("%#x", uintptr(unsafe.Pointer(it))))
	}
	out := fact{"goarch": runtime.GOARCH, "version": runtime.Version(), "file": file,
		"items": fact{"function": fnA, "line": lineA, "count": len(items),
			"size": unsafe.Sizeof(Item{}), "some": addrs},
		"buffers": fact{"function": fnB, "line": lineB, "count": len(buffers)}}
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	runtime.GC()
	debug.WriteHeapDump(f.Fd())
	f.Close()
	js, _ := json.Marshal(out)
	fmt.Println(string(js))
	os.Exit(0)
}
