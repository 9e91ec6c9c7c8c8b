// corestack: goroutines whose frames exercise every kind of stack map the heap dump reads, for
// comparing a core's frames' pointer slots with the dump's (tests/test_core_stackmaps.py). Each
// blocks before the dump: in a function made by reflect.MakeFunc (a reflect.makeFuncStub frame,
// whose arguments' size the runtime takes from the reflect.methodValue it saved), in a method
// value called through reflect (reflect.methodValueCall), holding pointers in many arguments
// and in an address-taken array of locals, and under a deferred call. main then writes a heap
// dump to os.Args[1], prints {"pid": …} as one JSON line and blocks without allocating.
// Usage: corestack DUMPFILE.
package main

import (
	"encoding/json"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"time"
)

type Obj struct {
	Name string
	Next *Obj
}

var (
	block = make(chan int)
	ready = make(chan struct{})
	sink  []*Obj
)

//go:noinline
func newObj(name string) *Obj { return &Obj{Name: name} }

// wait blocks forever, its argument held.
//
//go:noinline
func wait(o *Obj) *Obj {
	ready <- struct{}{}
	<-block
	return o
}

type Holder struct{ O *Obj }

//go:noinline
func (h *Holder) Hold(a, b *Obj, n int) *Obj {
	wait(h.O)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	return a
}

//go:noinline
func manyArgs(a, b, c *Obj, s string, xs []*Obj, m map[int]*Obj, n int, d, e, f, g, h, i *Obj) *Obj {
	wait(a)
	runtime.KeepAlive(xs)
	return i
}

//go:noinline
func addressTaken() {
	var arr [8]*Obj
	for i := range arr {
		arr[i] = newObj("arr")
	}
	p := &arr
	sink = append(sink, p[3])
	wait(p[0])
	runtime.KeepAlive(p)
}

//go:noinline
func deferred() {
	o := newObj("deferred")
	defer func() { runtime.KeepAlive(o) }()
	wait(o)
}

func main() {
	// A function made by reflect.MakeFunc: the goroutine blocks inside it.
	var made func(*Obj, string, *Obj) (*Obj, error)
	fn := reflect.MakeFunc(reflect.TypeOf(made), func(args []reflect.Value) []reflect.Value {
		o := args[0].Interface().(*Obj)
		wait(o)
		return []reflect.Value{args[2], reflect.Zero(reflect.TypeOf((*error)(nil)).Elem())}
	})
	reflect.ValueOf(&made).Elem().Set(fn)
	go made(newObj("made-a"), "s", newObj("made-b"))
	<-ready
	// A method value through reflect: reflect.methodValueCall.
	h := &Holder{O: newObj("method")}
	mv := reflect.ValueOf(h).MethodByName("Hold").Interface().(func(a, b *Obj, n int) *Obj)
	go mv(newObj("mv-a"), newObj("mv-b"), 3)
	<-ready
	go manyArgs(newObj("a"), newObj("b"), newObj("c"), "str", []*Obj{newObj("x")},
		map[int]*Obj{1: newObj("m")}, 7, newObj("d"), newObj("e"), newObj("f"), newObj("g"),
		newObj("h"), newObj("i"))
	<-ready
	go addressTaken()
	<-ready
	go deferred()
	<-ready
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
	line, _ := json.Marshal(map[string]interface{}{"pid": os.Getpid()})
	line = append(line, '\n')
	runtime.GC()
	debug.WriteHeapDump(f.Fd())
	f.Close()
	os.Stdout.Write(line)
	select {}
}
