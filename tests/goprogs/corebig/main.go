// corebig: a big heap for timing the core reader against the dump reader (bench/core.py). Like
// big, N records with pointers, strings, maps, slices and interfaces held by globals; after a
// GC it writes a heap dump to os.Args[1], prints its facts (pid included) as one JSON line and
// then blocks without allocating, like corefile, so that its core can be taken with
// `gcore PID`. Usage: corebig DUMPFILE [N].
package main

import (
	"encoding/json"
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

func main() {
	n := 50000
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}
	build(n)
	// A goroutine asleep keeps the process from being "deadlocked" once main blocks.
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
	line, _ := json.Marshal(map[string]interface{}{"pid": os.Getpid(), "n": n,
		"version": runtime.Version()})
	line = append(line, '\n')
	runtime.GC()
	debug.WriteHeapDump(f.Fd())
	// From here on nothing allocates: the core shows the heap the dump shows.
	f.Close()
	os.Stdout.Write(line)
	select {}
}
