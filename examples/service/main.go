// A small HTTP service that leaks, with heapdump's handler on its admin listener: every request
// to /login keeps a session in a global map that nothing ever cleans.
//
//	go build -o service . && ./service 127.0.0.1:6060
//	curl http://127.0.0.1:6060/login?user=ann
//	heapspurs --program ./service http://127.0.0.1:6060/debug/heapdump --top 10
//
// It prints one JSON line when it is ready: the URL of its dumps, the address of a leaked
// session and the global that holds it (the tests check heapspurs's answer against them).
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"unsafe"

	"github.com/heapspurs/heapspurs/go/heapdump"
)

type Session struct {
	User    string
	Token   []byte
	History []string
}

var (
	mu       sync.Mutex
	sessions = map[string]*Session{} // the leak: never cleaned
)

func login(user string) *Session {
	s := &Session{User: user, Token: make([]byte, 256)}
	mu.Lock()
	sessions[fmt.Sprint(user, "-", len(sessions))] = s
	mu.Unlock()
	return s
}

func main() {
	listen := "127.0.0.1:6060"
	if len(os.Args) > 1 {
		listen = os.Args[1]
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		login(r.URL.Query().Get("user"))
		fmt.Fprintln(w, "welcome")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "<!doctype html><title>service</title><p>hello</p>")
	})
	// The three lines a service adds (here on its one listener; in production, on an
	// internal/admin one, as net/http/pprof's handlers are).
	mux.Handle("/debug/heapdump", heapdump.Handler())

	var leaked *Session
	for i := 0; i < 500; i++ {
		leaked = login("user")
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		log.Fatal(err)
	}
	facts, _ := json.Marshal(map[string]string{
		"url":    "http://" + ln.Addr().String() + "/debug/heapdump",
		"leaked": fmt.Sprintf("%#x", uintptr(unsafe.Pointer(leaked))),
		"global": "main.sessions",
	})
	fmt.Println(string(facts))
	log.Fatal(http.Serve(ln, mux))
}
