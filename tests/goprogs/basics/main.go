// basics: a heap with every kind of record a dump can hold — globals in .data and .bss, a map,
// interfaces (itab and type records), a finalizer, goroutines blocked with pointers on their
// stacks, and MemProfileRate = 1 (memory-profile buckets and allocation samples). It writes the
// dump to os.Args[1] and prints facts about it as one JSON object.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unsafe"
)

type Small struct {
	P *int
	N int
}

type Mid struct {
	P    *Small
	Name string
	Pad  [4]int
}

type Struct200 struct {
	P   *Mid
	Pad [24]int
}

type Struct1000 struct {
	P   *Mid
	Pad [124]int
}

type Struct5000 struct {
	P   *Mid
	Pad [624]int
}

type Struct100k struct {
	P   *Mid
	Pad [12499]int
}

type Named struct{ Name string }

func (n *Named) String() string { return n.Name }

var bssGlobal *Mid // zero-initialized: lives in .bss

var dataGlobal = struct {
	N int
	P *Small
}{N: 42} // a non-zero static initializer: lives in .data

var cache map[string]*Small
var ifaces []interface{}
var stringer fmt.Stringer
var reader io.Reader
var withFinalizer *Small
var keep []interface{}

func hx(p unsafe.Pointer) string { return fmt.Sprintf("%#x", uintptr(p)) }

type objFact struct {
	Addr string `json:"addr"`
	Size int    `json:"size"`
	What string `json:"what"`
}

//go:noinline
func waiter(ch chan int, ready *sync.WaitGroup) {
	obj := &Mid{Name: strings.Repeat("w", 3)}
	ready.Done()
	<-ch
	fmt.Println(obj.Name) // obj is live across the block: it is in the frame's pointer map
}

type PanicArg struct {
	Msg  string
	Code int
}

var panicArg *PanicArg

// panicking panics with a heap value and blocks in its deferred call, so the dump holds a
// panic record (tag 15) whose argument is that value.
func panicking(ch chan int, ready *sync.WaitGroup) {
	defer func() {
		ready.Done()
		<-ch
		recover()
	}()
	panic(panicArg)
}

// deferring blocks with a heap-allocated defer record pending (a defer inside a loop).
func deferring(ch chan int, ready *sync.WaitGroup) {
	for i := 0; i < 2; i++ {
		defer fmt.Println("deferred", i)
	}
	ready.Done()
	<-ch
}

func main() {
	runtime.MemProfileRate = 1
	one := 1
	bssGlobal = &Mid{P: &Small{P: &one}, Name: "bss"}
	dataGlobal.P = &Small{N: 7}
	cache = map[string]*Small{}
	for i := 0; i < 100; i++ {
		cache[fmt.Sprintf("key-%d", i)] = &Small{N: i}
	}
	ifaces = []interface{}{&Named{Name: "a"}, 3.5, "text", []int{1, 2}, &Small{}}
	stringer = &Named{Name: "stringer"}
	reader = strings.NewReader("reader")
	withFinalizer = &Small{N: 99}
	runtime.SetFinalizer(withFinalizer, func(s *Small) { fmt.Println("finalized", s.N) })

	s16 := &Small{P: &one}
	s48 := &Mid{P: s16}
	s200 := &Struct200{P: s48}
	s1000 := &Struct1000{P: s48}
	s5000 := &Struct5000{P: s48}
	s100k := &Struct100k{P: s48}
	keep = []interface{}{s16, s48, s200, s1000, s5000, s100k}
	objects := []objFact{
		{hx(unsafe.Pointer(s16)), int(unsafe.Sizeof(*s16)), "Small"},
		{hx(unsafe.Pointer(s48)), int(unsafe.Sizeof(*s48)), "Mid"},
		{hx(unsafe.Pointer(s200)), int(unsafe.Sizeof(*s200)), "Struct200"},
		{hx(unsafe.Pointer(s1000)), int(unsafe.Sizeof(*s1000)), "Struct1000"},
		{hx(unsafe.Pointer(s5000)), int(unsafe.Sizeof(*s5000)), "Struct5000"},
		{hx(unsafe.Pointer(s100k)), int(unsafe.Sizeof(*s100k)), "Struct100k"},
	}

	const blocked = 5
	ch := make(chan int)
	var ready sync.WaitGroup
	ready.Add(blocked + 2)
	for i := 0; i < blocked; i++ {
		go waiter(ch, &ready)
	}
	panicArg = &PanicArg{Msg: "boom", Code: 7}
	go panicking(ch, &ready)
	go deferring(ch, &ready)
	ready.Wait()
	time.Sleep(50 * time.Millisecond) // let every waiter park on the channel

	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	facts := map[string]interface{}{
		"goarch":             runtime.GOARCH,
		"version":            runtime.Version(),
		"num_goroutine":      runtime.NumGoroutine(),
		"blocked_goroutines": blocked,
		"panic_arg":          hx(unsafe.Pointer(panicArg)),
		// addr: the global itself; slot: the pointer word inside it; points_to: its value.
		"bss_global": map[string]string{"addr": hx(unsafe.Pointer(&bssGlobal)),
			"slot": hx(unsafe.Pointer(&bssGlobal)), "points_to": hx(unsafe.Pointer(bssGlobal))},
		"data_global": map[string]string{"addr": hx(unsafe.Pointer(&dataGlobal)),
			"slot": hx(unsafe.Pointer(&dataGlobal.P)), "points_to": hx(unsafe.Pointer(dataGlobal.P))},
		"objects":         objects,
		"finalizer_obj":   hx(unsafe.Pointer(withFinalizer)),
		"map_len":         len(cache),
		"memprofile_rate": runtime.MemProfileRate,
	}
	runtime.GC()
	debug.WriteHeapDump(f.Fd())
	f.Close()
	out, _ := json.Marshal(facts)
	fmt.Println(string(out))
	runtime.KeepAlive(keep)
	os.Exit(0)
}
