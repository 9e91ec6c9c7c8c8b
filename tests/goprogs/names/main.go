// names: globals in .data and .bss that hold known objects, a global initialised by a constructor
// (compiled into a static object the named global points to), and objects of three classes that
// carry an object id as their first word (the original heapspurs README's OID scheme). It writes
// the dump to os.Args[1] and prints, as JSON, every address and which global holds what.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"unsafe"
)

// Object ids: one per class, the first field of each instance.
const (
	OidReport   uint64 = 0xcaffe14e00000001
	OidSource   uint64 = 0xcaffe14e00000002
	OidBig      uint64 = 0xcaffe14e00000003 // big enough for a malloc header (Go 1.22+)
	OidHostile  uint64 = 0xcaffe14e00000004 // its name in oid.txt is markup
	OidUnlisted uint64 = 0xcaffe14e00000099 // not in oid.txt: stays unnamed
)

type Report struct {
	Oid  uint64
	Body []byte
	Next *Report
}

type Source struct {
	Oid    uint64
	Report *Report
	Count  int
}

type Big struct {
	Oid uint64
	Src *Source
	Pad [700]byte
}

type Hostile struct {
	Oid uint64
	P   *Report
}

type Broker struct {
	Count int
	Subs  *Source
}

//go:noinline
func NewBroker() *Broker { return &Broker{Count: 1} }

var savedReports []*Report // .bss: the slice header, its backing array in the heap
var bssSource *Source      // .bss

var dataHolder = struct { // .data: a non-zero static initializer
	N   int
	Big *Big
}{N: 7}

var events = NewBroker() // may become a static object that main.events points to

// Initialised statically: the compiler may place the Broker itself in .data/.bss as an
// unnamed object, which only the named global's pointer leads to.
var staticBroker = &Broker{Count: 2}
var inlinedBroker = newBrokerInline()

func newBrokerInline() *Broker { return &Broker{Count: 3} }

var hostile *Hostile
var unlisted *Report

type fact map[string]interface{}

func hx(p unsafe.Pointer) string { return fmt.Sprintf("%#x", uintptr(p)) }

func main() {
	out := fact{"goarch": runtime.GOARCH, "version": runtime.Version()}
	reports := []string{}
	for i := 0; i < 5; i++ {
		r := &Report{Oid: OidReport, Body: make([]byte, 16+i)}
		savedReports = append(savedReports, r)
	}
	savedReports = savedReports[:5:5]
	for _, r := range savedReports {
		reports = append(reports, hx(unsafe.Pointer(r)))
	}
	sources := []string{}
	var src []*Source
	for i := 0; i < 3; i++ {
		s := &Source{Oid: OidSource, Report: savedReports[i], Count: i}
		src = append(src, s)
		sources = append(sources, hx(unsafe.Pointer(s)))
	}
	bssSource = src[0]
	bigs := []string{}
	dataHolder.Big = &Big{Oid: OidBig, Src: src[1]}
	dataHolder.Big.Src = src[1]
	bigs = append(bigs, hx(unsafe.Pointer(dataHolder.Big)))
	events.Subs = src[2]
	staticBroker.Subs = src[0]
	inlinedBroker.Subs = src[1]
	hostile = &Hostile{Oid: OidHostile, P: savedReports[4]}
	unlisted = &Report{Oid: OidUnlisted}

	out["oids"] = map[string]string{
		fmt.Sprintf("%#x", OidReport): "main.Report",
		fmt.Sprintf("%#x", OidSource): "main.Source",
		fmt.Sprintf("%d", OidBig):     "main.Big",
		fmt.Sprintf("%#x", OidHostile): `evil<script>alert("x")</script>&'\N`,
	}
	out["instances"] = map[string][]string{"main.Report": reports, "main.Source": sources,
		"main.Big": bigs, "hostile": {hx(unsafe.Pointer(hostile))},
		"unlisted": {hx(unsafe.Pointer(unlisted))}}
	out["globals"] = fact{
		"main.savedReports": fact{"addr": hx(unsafe.Pointer(&savedReports)),
			"points_to": hx(unsafe.Pointer(unsafe.SliceData(savedReports))), "section": "bss"},
		"main.bssSource": fact{"addr": hx(unsafe.Pointer(&bssSource)),
			"points_to": hx(unsafe.Pointer(bssSource)), "section": "bss"},
		"main.dataHolder": fact{"addr": hx(unsafe.Pointer(&dataHolder)),
			"slot": hx(unsafe.Pointer(&dataHolder.Big)), "offset": unsafe.Offsetof(dataHolder.Big),
			"points_to": hx(unsafe.Pointer(dataHolder.Big)), "section": "data"},
		"main.events": fact{"addr": hx(unsafe.Pointer(&events)),
			"points_to": hx(unsafe.Pointer(events)),
			"subs_slot": hx(unsafe.Pointer(&events.Subs)), "subs_offset": unsafe.Offsetof(events.Subs),
			"subs_value": hx(unsafe.Pointer(events.Subs))},
		"main.staticBroker": fact{"addr": hx(unsafe.Pointer(&staticBroker)),
			"points_to": hx(unsafe.Pointer(staticBroker)),
			"subs_slot": hx(unsafe.Pointer(&staticBroker.Subs)),
			"subs_offset": unsafe.Offsetof(staticBroker.Subs),
			"subs_value": hx(unsafe.Pointer(staticBroker.Subs))},
		"main.inlinedBroker": fact{"addr": hx(unsafe.Pointer(&inlinedBroker)),
			"points_to": hx(unsafe.Pointer(inlinedBroker)),
			"subs_slot": hx(unsafe.Pointer(&inlinedBroker.Subs)),
			"subs_offset": unsafe.Offsetof(inlinedBroker.Subs),
			"subs_value": hx(unsafe.Pointer(inlinedBroker.Subs))},
	}
	out["sizes"] = fact{"main.Report": unsafe.Sizeof(Report{}), "main.Source": unsafe.Sizeof(Source{}),
		"main.Big": unsafe.Sizeof(Big{})}

	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	runtime.GC()
	debug.WriteHeapDump(f.Fd())
	f.Close()
	runtime.KeepAlive(src)
	js, _ := json.Marshal(out)
	fmt.Println(string(js))
	os.Exit(0)
}
