// specials.go: finalizers and defers for reading a core's specials (tests/test_core_specials.py).
// Before main builds its heap, init registers finalizers on a few objects that stay reachable
// (globals named spec*), each finalizer a closure holding an object nothing else holds, and
// starts a goroutine that blocks in a function with a pending defer (in a loop: a _defer record
// on g._defer, not an open-coded one) whose closure holds an object nothing else holds. Then it
// drops an object whose finalizer blocks (in a chan send) and, once the finalizer goroutine runs
// it, drops a few more whose finalizers hold objects nothing else holds: those stay queued.
package main

import "runtime"

type specObj struct {
	Name string
	Next *specObj
}

var (
	specFinalized []*specObj       // each with a finalizer holding its own specObj
	specBlock     = make(chan int) // never received from
	specReady     = make(chan struct{})
	specFinRuns   = make(chan struct{})
	specFinBlock  = make(chan int) // never received from
)

//go:noinline
func specNew(name string) *specObj {
	return &specObj{Name: name}
}

//go:noinline
func specDeferring() { // started as is: its goroutine's function is not main.init's
	for i := 0; i < 2; i++ {
		held := specNew("deferred")
		defer func() { runtime.KeepAlive(held) }()
	}
	specReady <- struct{}{}
	specBlock <- 1 // a chan send (the roots tests count the goroutines in a chan receive)
}

//go:noinline
func specDrop(name string, finalizer func(*specObj)) {
	runtime.SetFinalizer(specNew(name), finalizer)
}

func init() {
	for i := 0; i < 4; i++ {
		o := specNew("finalized")
		held := specNew("held by a finalizer")
		runtime.SetFinalizer(o, func(*specObj) { runtime.KeepAlive(held) })
		specFinalized = append(specFinalized, o)
	}
	go specDeferring()
	<-specReady
	specDrop("blocking", func(*specObj) {
		specFinRuns <- struct{}{}
		specFinBlock <- 1
	})
	runtime.GC()
	<-specFinRuns
	for i := 0; i < 3; i++ {
		held := specNew("held by a queued finalizer")
		specDrop("queued", func(*specObj) { runtime.KeepAlive(held) })
	}
	runtime.GC()
}
