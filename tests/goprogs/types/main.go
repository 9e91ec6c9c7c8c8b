// types: a map cache, a pub/sub broker, an HTTP server under httptest and values behind
// interfaces, so that the tests can check the Go types heapspurs gives objects against the types
// the program itself reports (reflect). It writes the dump to os.Args[1] and prints, as JSON,
// the address and type of a sample of its objects.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"sync"
	"unsafe"
)

type Entry struct {
	Key     string
	Payload []byte
	Hits    int
	Next    *Entry
}

type Message struct {
	Topic string
	Body  []byte
}

type Subscriber struct {
	ID     int
	Ch     chan Message
	Filter func(Message) bool
	Last   interface{}
}

type Broker struct {
	mu     sync.Mutex
	subs   []*Subscriber
	topics map[string][]*Subscriber
}

var cache = map[string]*Entry{}
var broker *Broker
var server *httptest.Server
var anything interface{}
var values []interface{}
var history [][]*Entry
var registry sync.Map // values only it holds: typed through sync.Map's internals
var registered []string

// Compiled into an unnamed static object in .data that only staticEntry points to.
var staticEntry = &Entry{Key: "static", Hits: 7}

type sample struct {
	Addr string `json:"addr"`
	Type string `json:"type"`
}

var samples []sample

// A slice of an array field inside a struct: the struct, not a byte array.
type Framed struct {
	N   int
	Buf [64]byte
}

var framedSlice []byte // declared before framed: seen first
var framed *Framed
var chanBuffers []string

// chanBuf is the address of a channel's buffer: the runtime's hchan starts with qcount,
// dataqsiz and buf.
func chanBuf(ch chan Message) string {
	h := *(*unsafe.Pointer)(unsafe.Pointer(&ch))
	return fmt.Sprintf("%#x", *(*uintptr)(unsafe.Add(h, 2*unsafe.Sizeof(uintptr(0)))))
}

// record notes what a pointer points at, as reflect names it (the pointer's element type).
func record(p interface{}) {
	v := reflect.ValueOf(p)
	samples = append(samples, sample{fmt.Sprintf("%#x", v.Pointer()), v.Type().Elem().String()})
}

// recordSlice notes a slice's backing array: [cap]T.
func recordSlice(s interface{}) {
	v := reflect.ValueOf(s)
	if v.Cap() == 0 {
		return
	}
	samples = append(samples, sample{fmt.Sprintf("%#x", v.Pointer()),
		fmt.Sprintf("[%d]%s", v.Cap(), v.Type().Elem().String())})
}

func main() {
	var prev *Entry
	for i := 0; i < 300; i++ {
		e := &Entry{Key: fmt.Sprint("key-", i), Payload: make([]byte, 100+i), Hits: i, Next: prev}
		cache[e.Key] = e
		prev = e
		if i%50 == 0 {
			record(e)
			recordSlice(e.Payload)
		}
	}
	broker = &Broker{topics: map[string][]*Subscriber{}}
	record(broker)
	for i := 0; i < 20; i++ {
		s := &Subscriber{ID: i, Ch: make(chan Message, 4), Filter: func(m Message) bool {
			return len(m.Body) > i
		}, Last: Message{Topic: "t", Body: make([]byte, 10)}}
		broker.subs = append(broker.subs, s)
		topic := fmt.Sprint("topic-", i%3)
		broker.topics[topic] = append(broker.topics[topic], s)
		if i%5 == 0 {
			record(s)
			chanBuffers = append(chanBuffers, chanBuf(s.Ch))
		}
	}
	broker.subs = broker.subs[:len(broker.subs):len(broker.subs)]
	recordSlice(broker.subs)
	server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	resp, err := http.Get(server.URL)
	if err == nil {
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	record(server)
	record(server.Listener.(interface{}))
	e := &Entry{Key: "boxed"}
	anything = e
	record(e)
	values = []interface{}{&Entry{Key: "v0"}, Message{Topic: "boxed"}, 42, "text"}
	recordSlice(values)
	record(values[0])
	history = make([][]*Entry, 3, 5)
	for i := range history {
		history[i] = make([]*Entry, 2+i, 4+i)
		history[i][0] = prev
		recordSlice(history[i])
	}
	recordSlice(history)
	fr := &Framed{N: 1}
	framedSlice = fr.Buf[8:16]
	framed = fr
	record(fr)
	onlyStatic := &Entry{Key: fmt.Sprint("held-by-a-static-", 1)}
	staticEntry.Next = onlyStatic
	heldByStatic := fmt.Sprintf("%#x", unsafe.Pointer(onlyStatic)) // not live past here
	for i := 0; i < 5; i++ {
		e := &Entry{Key: fmt.Sprint("registered-", i), Hits: i}
		registry.Store(e.Key, e)
		registered = append(registered, fmt.Sprintf("%#x", unsafe.Pointer(e)))
	}

	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	runtime.GC()
	debug.WriteHeapDump(f.Fd())
	f.Close()
	out := map[string]interface{}{"goarch": runtime.GOARCH, "version": runtime.Version(),
		"samples": samples, "registered": registered, "chan_buffers": chanBuffers,
		"static_entry": fmt.Sprintf("%#x", unsafe.Pointer(staticEntry)),
		"held_by_static": heldByStatic, "entry_size": unsafe.Sizeof(Entry{})}
	js, _ := json.Marshal(out)
	fmt.Println(string(js))
	os.Exit(0)
}
