// shapes: the memory every Go service has that plain type propagation leaves untyped —
// closures capturing by value and by reference, pending defers in a loop, goroutines started
// with captured state, unbuffered and pointer-free channels, a big map, timers — so that the
// tests can check the types heapspurs gives them against what the program itself knows. It
// writes the dump to os.Args[1] and prints, as JSON, the address and type of a sample of its
// objects (closures by the name of their function).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"sync"
	"time"
	"unsafe"
)

type Tracker struct {
	ID   int
	Name string
	Buf  []byte
	Next *Tracker
}

//go:noinline
func (t *Tracker) Release() { released += t.ID }

//go:noinline
func (t *Tracker) Wait(ch chan int, wg *sync.WaitGroup) {
	wg.Done()
	<-ch
	released += t.ID
}

type State struct {
	Count int
	Items []*Item
	Label string
}

type Item struct {
	V    int
	Data []byte
}

type Event struct {
	Kind int
	At   int64
}

var callbacks []func() int
var handlers = map[string]func(string) string{}
var released int
var stop = make(chan int) // unbuffered: what blocked goroutines wait on
var ready sync.WaitGroup
var signals chan struct{}
var events chan Event
var pending chan *Item
var channels []interface{}
var index map[int]*Item
var timers []*time.Timer
var tickers []string // addresses of tickers nothing but the runtime holds

type sample struct {
	Addr string `json:"addr"`
	Type string `json:"type"`
}

var samples []sample
var onlyViaClosures []string // objects nothing but a closure or a defer wrapper holds
var spilledArgs []string     // objects nothing but a spilled register argument holds

func addr(p unsafe.Pointer) string { return fmt.Sprintf("%#x", uintptr(p)) }

// record notes what a pointer points at, as reflect names it.
func record(p interface{}) {
	v := reflect.ValueOf(p)
	samples = append(samples, sample{addr(v.UnsafePointer()), v.Type().Elem().String()})
}

// recordFunc notes a func value's closure object and the name of its function.
func recordFunc(f interface{}) {
	v := reflect.ValueOf(f)
	fv := (*[2]unsafe.Pointer)(unsafe.Pointer(&f))[1] // the funcval
	samples = append(samples, sample{addr(fv), "closure " + runtime.FuncForPC(v.Pointer()).Name()})
}

// recordChan notes a channel's hchan: the runtime's hchan<T>.
func recordChan(ch interface{}) {
	v := reflect.ValueOf(ch)
	samples = append(samples, sample{addr(v.UnsafePointer()), "hchan<" + v.Type().Elem().String() + ">"})
}

func newTracker(id int) *Tracker {
	return &Tracker{ID: id, Name: fmt.Sprint("tracker-", id), Buf: make([]byte, 64+id)}
}

// deferInLoop leaves three defers pending (defers in a loop go on the defer chain as heap
// records, with a wrapper closure holding the receiver) while it waits.
func deferInLoop(base int) {
	for i := 0; i < 3; i++ {
		t := newTracker(base + i)
		onlyViaClosures = append(onlyViaClosures, addr(unsafe.Pointer(t)))
		record(t)
		defer t.Release()
	}
	for i := 0; i < 2; i++ {
		s := &State{Label: fmt.Sprint("deferred-", base, i)}
		onlyViaClosures = append(onlyViaClosures, addr(unsafe.Pointer(s)))
		record(s)
		defer func() { released += len(s.Label) }()
	}
	ready.Done()
	<-stop
}

func main() {
	// Closures capturing a pointer by value, a struct by reference, several values.
	for i := 0; i < 4; i++ {
		t := newTracker(100 + i)
		onlyViaClosures = append(onlyViaClosures, addr(unsafe.Pointer(t)))
		record(t)
		f := func() int { return t.ID + len(t.Buf) }
		recordFunc(f)
		callbacks = append(callbacks, f)
	}
	var st State
	st.Label = "by-reference"
	count := func() int {
		st.Count++
		st.Items = append(st.Items, &Item{V: st.Count, Data: make([]byte, 16)})
		return st.Count
	}
	count()
	count()
	record(&st)
	record(st.Items[0])
	recordFunc(count)
	callbacks = append(callbacks, count)
	for i := 0; i < 3; i++ {
		prefix := fmt.Sprint("handler-", i, ":")
		limit := 10 + i
		seen := make([]string, 0, 8)
		h := func(s string) string {
			seen = append(seen, s)
			if len(s) > limit {
				s = s[:limit]
			}
			return prefix + s
		}
		h("warm")
		recordFunc(h)
		handlers[fmt.Sprint("h", i)] = h
	}

	// Pending defers in loops, in goroutines that wait.
	for g := 0; g < 2; g++ {
		ready.Add(1)
		go deferInLoop(1000 + 10*g)
	}
	// Goroutines started with captured state, and with a method call (a go wrapper).
	for g := 0; g < 2; g++ {
		t := newTracker(2000 + g)
		onlyViaClosures = append(onlyViaClosures, addr(unsafe.Pointer(t)))
		record(t)
		ready.Add(1)
		go func() {
			ready.Done()
			<-stop
			released += t.ID
		}()
	}
	for g := 0; g < 2; g++ {
		// Once the goroutine runs, its wrapper's closure is dropped: t is then held by the
		// spill slot of Wait's receiver only (in the wrapper's frame).
		t := newTracker(3000 + g)
		spilledArgs = append(spilledArgs, addr(unsafe.Pointer(t)))
		record(t)
		ready.Add(1)
		go t.Wait(stop, &ready)
	}

	// Channels the runtime allocates without pointer bits: unbuffered, or with pointer-free
	// elements, or zero-size ones.
	signals = make(chan struct{}, 8)
	events = make(chan Event, 16)
	pending = make(chan *Item, 4)
	pending <- &Item{V: 7}
	unbuffered := make(chan *Tracker)
	channels = []interface{}{make(chan int), make(chan string), unbuffered, make(chan [0]int, 3)}
	for _, ch := range []interface{}{stop, signals, events, pending} {
		recordChan(ch)
	}
	for _, ch := range channels {
		recordChan(ch)
	}

	// A big map: Go 1.24+ keeps it as a directory of tables of groups.
	index = make(map[int]*Item)
	for i := 0; i < 3000; i++ {
		index[i] = &Item{V: i}
	}
	record(index[5])

	// Timers: time.AfterFunc holds its function.
	for i := 0; i < 3; i++ {
		t := newTracker(4000 + i)
		record(t)
		timers = append(timers, time.AfterFunc(time.Hour, func() { t.Release() }))
	}

	// Timers only the runtime's timer heap holds (it points at the timer inside them): a
	// discarded AfterFunc whose function holds a Tracker, and a discarded Ticker.
	for i := 0; i < 2; i++ {
		t := newTracker(5000 + i)
		onlyViaClosures = append(onlyViaClosures, addr(unsafe.Pointer(t)))
		record(t)
		time.AfterFunc(time.Hour, func() { t.Release() })
	}
	tickers = append(tickers, addr(unsafe.Pointer(time.NewTicker(time.Hour))))

	ready.Wait()
	runtime.Gosched()
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	runtime.GC()
	debug.WriteHeapDump(f.Fd())
	f.Close()
	out := map[string]interface{}{"goarch": runtime.GOARCH, "version": runtime.Version(),
		"samples": samples, "only_via_closures": onlyViaClosures,
		"tickers": tickers, "spilled_args": spilledArgs}
	js, _ := json.Marshal(out)
	fmt.Println(string(js))
	runtime.KeepAlive(st)
	os.Exit(0)
}
