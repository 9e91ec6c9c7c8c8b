// roots.go: roots for reading a core's globals and goroutines (tests/test_core_roots.py).
// Before main builds its heap, init starts goroutines that block, each holding a heap object
// in a local, in a channel receive, a select, a sleep, a sync.Mutex and a blocking read system
// call (a goroutine in a system call, its thread parked on the goroutine's own stack), the
// first few calls deep; and globals in .data start out holding pointers.
package main

import (
	"runtime"
	"sync"
	"syscall"
	"time"
)

type Held struct {
	Name string
	Next *Held
}

var (
	rootsStatic = &Held{Name: "static"} // a pointer in .data to a static object
	rootsText   = "a string in .data"
	rootsHeld   []*Held // a slice in .bss: the static object, then one named rootsText
	rootsBlock  = make(chan int)
	rootsMu     sync.Mutex
	rootsPipe   [2]int
)

//go:noinline
func newHeld(name string) *Held {
	return &Held{Name: name, Next: rootsStatic}
}

//go:noinline
func nest(depth int, f func()) {
	if depth > 0 {
		nest(depth-1, f)
		return
	}
	f()
}

func holdRecv(ready chan<- struct{}) {
	h := newHeld("recv")
	ready <- struct{}{}
	<-rootsBlock
	runtime.KeepAlive(h)
}

func holdSelect(ready chan<- struct{}) {
	h := newHeld("select")
	other := make(chan string)
	ready <- struct{}{}
	select {
	case <-rootsBlock:
	case <-other:
	}
	runtime.KeepAlive(h)
}

func holdSleep(ready chan<- struct{}) {
	h := newHeld("sleep")
	ready <- struct{}{}
	for {
		time.Sleep(time.Hour)
		runtime.KeepAlive(h)
	}
}

func holdMutex(ready chan<- struct{}) {
	h := newHeld("mutex")
	ready <- struct{}{}
	rootsMu.Lock()
	runtime.KeepAlive(h)
}

func holdSyscall(ready chan<- struct{}) {
	h := newHeld("syscall")
	buf := make([]byte, 1)
	ready <- struct{}{}
	syscall.Read(rootsPipe[0], buf)
	runtime.KeepAlive(h)
}

func init() {
	if err := syscall.Pipe(rootsPipe[:]); err != nil {
		panic(err)
	}
	rootsMu.Lock()
	ready := make(chan struct{})
	for i, hold := range []func(chan<- struct{}){holdRecv, holdSelect, holdSleep, holdMutex,
		holdSyscall} {
		hold := hold
		go nest(i%3, func() { hold(ready) })
		<-ready
	}
	rootsHeld = append(rootsHeld, rootsStatic, newHeld(rootsText))
}
