// big: a larger heap (N records with pointers, strings, maps, slices and interfaces, held by
// globals, plus a few blocked goroutines) and no finalizers or address-taken locals, for
// reachability counts. Usage: big DUMPFILE [N].
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"
)

type Record struct {
	ID     int
	Name   string
	Tags   []string
	Parent *Record
	Attrs  map[string]int
	Value  interface{}
}

var records []*Record
var byName map[string]*Record
var blockers []chan int

func build(n int) {
	records = make([]*Record, 0, n)
	byName = make(map[string]*Record, n/10)
	for i := 0; i < n; i++ {
		r := &Record{ID: i, Name: "record-" + strconv.Itoa(i)}
		if i%3 == 0 {
			r.Tags = []string{"a", r.Name[:4]}
		}
		if i > 0 {
			r.Parent = records[i/2]
		}
		if i%50 == 0 {
			r.Attrs = map[string]int{"x": i, "y": i * 2}
		}
		switch i % 4 {
		case 0:
			r.Value = i
		case 1:
			r.Value = r.Name
		case 2:
			r.Value = &Record{ID: -i}
		}
		records = append(records, r)
		if i%10 == 0 {
			byName[r.Name] = r
		}
	}
}

func worker(ch chan int) {
	<-ch
}

func main() {
	n := 50000
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}
	build(n)
	for i := 0; i < 4; i++ {
		ch := make(chan int)
		blockers = append(blockers, ch)
		go worker(ch)
	}
	time.Sleep(30 * time.Millisecond)
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	runtime.GC()
	debug.WriteHeapDump(f.Fd())
	f.Close()
	js, _ := json.Marshal(map[string]interface{}{"n": n, "version": runtime.Version(),
		"first_record": fmt.Sprintf("%p", records[0]),
		"last_record":  fmt.Sprintf("%p", records[n-1])})
	fmt.Println(string(js))
	os.Exit(0)
}
