// leaks: one object per case, each kept alive by exactly one kind of root, so that the tests can
// check that heapspurs names that root. It writes the dump to os.Args[1] and prints, for each
// case, the object's address as the program sees it and what holds it.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
	"unsafe"
)

type Thing struct {
	ID   int
	Next *Thing
	Name string
}

type Fields struct {
	A, B, C int64
	D       *int
	E       int64
}

type WithHeader struct {
	P   *int
	Pad [600]byte
}

type Node struct {
	Next *Node
	Val  [4]int
}

var bssHolder *Thing // .bss

var dataHolder = struct {
	N int
	P *Thing
}{N: 1} // .data (non-zero static initializer)

var fieldHolder **int
var sliceHolder []*int
var substringHolder string
var mapHolder map[int]*Thing
var headerHolder *WithHeader

type fact map[string]interface{}

func hx(p unsafe.Pointer) string { return fmt.Sprintf("%#x", uintptr(p)) }
func hu(p uintptr) string        { return fmt.Sprintf("%#x", p) }

//go:noinline
func sink(x interface{}) {
	if x == nil {
		fmt.Println("nil")
	}
}

//go:noinline
func newThing(id int) *Thing { return &Thing{ID: id, Name: fmt.Sprint("thing-", id)} }

//go:noinline
func holdInLocal(addr chan<- uintptr, block <-chan int) {
	obj := newThing(1)
	addr <- uintptr(unsafe.Pointer(obj))
	<-block
	sink(obj) // live across the block: only this frame's pointer map holds it
}

//go:noinline
func holdInDefer(addr chan<- uintptr, block <-chan int) {
	for i := 0; i < 1; i++ { // a defer in a loop is a heap defer record
		obj := newThing(2)
		addr <- uintptr(unsafe.Pointer(obj))
		defer func() { sink(obj) }()
	}
	<-block
}

type holder struct {
	P   *Thing
	Pad [3]int
}

//go:noinline
func touch(h *holder) int { return h.Pad[0] } // reads only: h does not escape

//go:noinline
func get(h *holder) *Thing { return h.P }

//go:noinline
func holdInStackObject(addr chan<- uintptr, block <-chan int) {
	var h holder // address taken but not escaping: a stack object, absent from the pointer maps
	h.P = newThing(5)
	addr <- uintptr(unsafe.Pointer(get(&h)))
	<-block
	sink(touch(&h))
	sink(get(&h))
}

//go:noinline
func setupGlobals(out fact) {
	t := newThing(3)
	bssHolder = t
	out["bss"] = fact{"addr": hx(unsafe.Pointer(t)), "size": int(unsafe.Sizeof(*t)),
		"kind": "bss", "slot": hx(unsafe.Pointer(&bssHolder)), "function": nil}

	t = newThing(4)
	dataHolder.P = t
	out["data"] = fact{"addr": hx(unsafe.Pointer(t)), "size": int(unsafe.Sizeof(*t)),
		"kind": "data", "slot": hx(unsafe.Pointer(&dataHolder.P)), "function": nil}

	f := &Fields{A: 1}
	fieldHolder = &f.D
	out["interior_field"] = fact{"addr": hx(unsafe.Pointer(f)), "size": int(unsafe.Sizeof(*f)),
		"kind": "bss", "slot": hx(unsafe.Pointer(&fieldHolder)),
		"field_offset": int(unsafe.Offsetof(f.D)), "value": hx(unsafe.Pointer(&f.D)),
		"function": nil}

	arr := make([]*int, 1000)
	sliceHolder = arr[500:600]
	out["interior_slice"] = fact{"addr": hx(unsafe.Pointer(&arr[0])), "size": int(unsafe.Sizeof(arr[0])) * len(arr),
		"kind": "bss", "slot": hx(unsafe.Pointer(&sliceHolder)),
		"value": hx(unsafe.Pointer(&arr[500])), "function": nil}

	s := strings.Repeat("leaky-string-", 800)
	substringHolder = s[5000:5010]
	out["substring"] = fact{"addr": hx(unsafe.Pointer(unsafe.StringData(s))), "size": len(s),
		"kind": "bss", "slot": hx(unsafe.Pointer(&substringHolder)),
		"value": hx(unsafe.Pointer(unsafe.StringData(substringHolder))), "function": nil}

	mapHolder = map[int]*Thing{}
	for i := 0; i < 20; i++ {
		mapHolder[i] = newThing(100 + i)
	}
	t = mapHolder[7]
	out["map_chain"] = fact{"addr": hx(unsafe.Pointer(t)), "size": int(unsafe.Sizeof(*t)),
		"kind": "bss", "slot": hx(unsafe.Pointer(&mapHolder)), "function": nil}

	h := &WithHeader{}
	headerHolder = h
	out["malloc_header"] = fact{"addr": hx(unsafe.Pointer(h)), "size": int(unsafe.Sizeof(*h)),
		"kind": "bss", "slot": hx(unsafe.Pointer(&headerHolder)), "function": nil}
}

//go:noinline
func setupFinalizerCycle(out fact) {
	a := &Node{}
	b := &Node{Next: a}
	a.Next = b
	runtime.SetFinalizer(a, func(n *Node) { fmt.Println("finalized", n.Val[0]) })
	out["finalizer_cycle"] = fact{"addr": hx(unsafe.Pointer(a)), "size": int(unsafe.Sizeof(*a)),
		"kind": "finalizer", "slot": nil, "function": nil,
		"finalizer_obj": hx(unsafe.Pointer(a)), "partner": hx(unsafe.Pointer(b))}
}

func main() {
	out := fact{"goarch": runtime.GOARCH, "version": runtime.Version()}
	setupGlobals(out)
	setupFinalizerCycle(out)

	block := make(chan int)
	addr := make(chan uintptr)
	go holdInLocal(addr, block)
	local := <-addr
	go holdInDefer(addr, block)
	deferred := <-addr
	go holdInStackObject(addr, block)
	stackObject := <-addr
	time.Sleep(50 * time.Millisecond) // let both goroutines park on the channel
	out["frame"] = fact{"addr": hu(local), "size": int(unsafe.Sizeof(Thing{})), "kind": "frame",
		"slot": nil, "function": "main.holdInLocal"}
	out["defer"] = fact{"addr": hu(deferred), "size": int(unsafe.Sizeof(Thing{})),
		"kind": "defer", "slot": nil, "function": "main.holdInDefer"}

	out["stack_object"] = fact{"addr": hu(stackObject), "size": int(unsafe.Sizeof(Thing{})),
		"kind": "frame", "slot": nil, "function": "main.holdInStackObject"}

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
