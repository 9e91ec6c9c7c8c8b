// leaky is the example heapspurs is demonstrated on: a tiny "service" whose session cache never
// forgets anything. It writes a heap dump to the path given as its first argument and prints the
// address of one leaked session, so that `heapspurs DUMP --address ADDR --anchors` can explain
// what keeps it alive.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
)

type Session struct {
	ID      int
	User    string
	Payload []byte
	Peer    *Session
}

type Cache struct {
	mu       sync.Mutex
	sessions map[int]*Session
	recent   []*Session
}

var cache = &Cache{sessions: map[int]*Session{}}

func handle(id int) {
	s := &Session{ID: id, User: strings.Repeat("u", 16), Payload: make([]byte, 256)}
	cache.mu.Lock()
	defer cache.mu.Unlock()
	cache.sessions[id] = s // never deleted: the leak
	if len(cache.recent) > 0 {
		s.Peer = cache.recent[len(cache.recent)-1]
	}
	cache.recent = append(cache.recent, s)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: leaky DUMPFILE")
		os.Exit(2)
	}
	for i := 0; i < 200; i++ {
		handle(i)
	}
	fmt.Printf("%p\n", cache.sessions[42]) // the address we will ask heapspurs about
	f, err := os.Create(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	runtime.GC()
	debug.WriteHeapDump(f.Fd())
	f.Close()
}
