// retain: heap shapes with known retained sizes, for the dominator tree. A global slice of
// reports each holding a buffer (an accumulation point), a binary tree, a diamond (two globals
// share one object), goroutines that leak a buffer each, a finalizer cycle nothing else holds,
// and garbage allocated after the last GC. It writes the dump to os.Args[1] and prints every
// address as JSON; the tests read the objects' sizes from the dump.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"
	"unsafe"
)

type Report struct {
	ID  int
	Buf []byte
}

type Node struct {
	Left, Right *Node
	Val         int
}

type Holder struct {
	Shared *Shared
	Pad    [2]int
}

type Shared struct {
	Data [100]int
}

type Cyclic struct {
	Next *Cyclic
	Pad  [6]int
}

const NReports = 2000

var reports []*Report
var tree *Node
var left, right *Holder
var garbage []byte

type fact map[string]interface{}

func hx(p unsafe.Pointer) string { return fmt.Sprintf("%#x", uintptr(p)) }

func build(depth int, all *[]string) *Node {
	n := &Node{Val: depth}
	*all = append(*all, hx(unsafe.Pointer(n)))
	if depth > 0 {
		n.Left = build(depth-1, all)
		n.Right = build(depth-1, all)
	}
	return n
}

//go:noinline
func leakyWorker(ch chan int, ready chan<- string, n int) {
	buf := make([]byte, n) // a run-time size: allocated in the heap
	ready <- hx(unsafe.Pointer(&buf[0]))
	<-ch
	runtime.KeepAlive(buf)
}

//go:noinline
func otherWorker(ch chan int, ready chan<- string, n int) {
	buf := make([]byte, n)
	ready <- hx(unsafe.Pointer(&buf[0]))
	<-ch
	runtime.KeepAlive(buf)
}

//go:noinline
func makeCycle() (string, string) {
	a := &Cyclic{}
	b := &Cyclic{Next: a}
	a.Next = b
	runtime.SetFinalizer(a, func(c *Cyclic) { fmt.Println("finalized", c.Pad[0]) })
	return hx(unsafe.Pointer(a)), hx(unsafe.Pointer(b))
}

func main() {
	out := fact{"goarch": runtime.GOARCH, "version": runtime.Version()}
	reports = make([]*Report, NReports)
	var rs, bufs []string
	for i := range reports {
		r := &Report{ID: i, Buf: make([]byte, 1000)}
		reports[i] = r
		rs = append(rs, hx(unsafe.Pointer(r)))
		bufs = append(bufs, hx(unsafe.Pointer(&r.Buf[0])))
	}
	out["reports"] = fact{"global": "main.reports", "array": hx(unsafe.Pointer(&reports[0])),
		"slot": hx(unsafe.Pointer(&reports)), "items": rs, "buffers": bufs}

	var nodes []string
	tree = build(7, &nodes)
	out["tree"] = fact{"global": "main.tree", "root": hx(unsafe.Pointer(tree)), "nodes": nodes}

	shared := &Shared{}
	left = &Holder{Shared: shared}
	right = &Holder{Shared: shared}
	out["diamond"] = fact{"shared": hx(unsafe.Pointer(shared)), "left": hx(unsafe.Pointer(left)),
		"right": hx(unsafe.Pointer(right))}

	ch := make(chan int)
	ready := make(chan string)
	var leaked, other []string
	for i := 0; i < 50; i++ {
		go leakyWorker(ch, ready, 4000)
		leaked = append(leaked, <-ready)
	}
	for i := 0; i < 3; i++ {
		go otherWorker(ch, ready, 100)
		other = append(other, <-ready)
	}
	out["goroutines"] = fact{"main.leakyWorker": leaked, "main.otherWorker": other}

	a, b := makeCycle()
	out["cycle"] = fact{"finalized": a, "partner": b}
	time.Sleep(50 * time.Millisecond)

	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	runtime.GC()
	var dropped []string
	for i := 0; i < 100; i++ { // allocated after the last GC and dropped: unreachable
		garbage = make([]byte, 3000)
		dropped = append(dropped, hx(unsafe.Pointer(&garbage[0])))
	}
	garbage = nil
	out["garbage"] = dropped
	debug.WriteHeapDump(f.Fd())
	f.Close()
	js, _ := json.Marshal(out)
	fmt.Println(string(js))
	os.Exit(0)
}
