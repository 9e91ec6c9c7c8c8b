// listings: many objects for the answers that list them (--find, --unreachable --json). N items
// of one type in a global slice, each with an object id as its first word, chained by Next and
// allocated at one site (every allocation sampled); an Odd object pointing at the first item
// and into the second; and G byte slices allocated after the last GC and dropped (unreachable).
// It writes the dump to os.Args[1] and prints the addresses as JSON. Usage: listings DUMP [N [G]].
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"unsafe"
)

type Item struct {
	Oid  uint64
	ID   int
	Next *Item
	Name string
}

type Odd struct {
	Oid   uint64
	First *Item
	ID    *int // into the second item: a pointer value named with an offset
}

const ItemOid = 0xcaffe14e0000a001
const OddOid = 0xcaffe14e0000a002

var items []*Item
var odd *Odd
var garbage []byte

func hx(p unsafe.Pointer) string { return fmt.Sprintf("%#x", uintptr(p)) }

func makeItems(n int) {
	items = make([]*Item, n)
	for i := n - 1; i >= 0; i-- {
		it := &Item{Oid: ItemOid, ID: i, Name: "item-" + strconv.Itoa(i)}
		if i+1 < n {
			it.Next = items[i+1]
		}
		items[i] = it
	}
}

func main() {
	runtime.MemProfileRate = 1
	n, g := 20000, 12000
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}
	if len(os.Args) > 3 {
		g, _ = strconv.Atoi(os.Args[3])
	}
	makeItems(n)
	odd = &Odd{Oid: OddOid, First: items[0], ID: &items[1].ID}
	addrs := make([]string, n)
	for i, it := range items {
		addrs[i] = hx(unsafe.Pointer(it))
	}
	out := map[string]interface{}{
		"items": addrs, "odd": hx(unsafe.Pointer(odd)),
		"oids": map[string]string{fmt.Sprintf("%#x", uint64(ItemOid)): "listings.Item",
			fmt.Sprintf("%#x", uint64(OddOid)): "Odd\"\\<ü>"},
	}
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	dropped := make([]string, 0, g)
	runtime.GC()
	for i := 0; i < g; i++ { // allocated after the last GC and dropped: unreachable
		garbage = make([]byte, 64)
		dropped = append(dropped, hx(unsafe.Pointer(&garbage[0])))
	}
	garbage = nil
	debug.WriteHeapDump(f.Fd())
	f.Close()
	out["garbage"] = dropped
	js, _ := json.Marshal(out)
	fmt.Println(string(js))
	os.Exit(0)
}
