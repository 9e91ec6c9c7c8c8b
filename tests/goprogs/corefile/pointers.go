// pointers.go: pointer shapes for reading a core's pointer slots (tests/test_core_pointers.py).
// Before main builds its heap, init fills globals (all named ptrs*) with objects whose pointer
// words come from each of the runtime's rules: arrays of structs with pointers under and over
// 512 bytes (heap bits in the span; a malloc header and the element type tiled to the slot's
// end), interfaces, funcs, maps and channels, large objects tiled from their span's type, and a
// type with more than 128 KiB of pointers (a GC mask built on demand from Go 1.24, a GC program
// before).
package main

type ptrsMixed struct { // 56 bytes: pointer words at 8 (interface data), 24 (error data), 32, 40, 48
	I interface{}
	E error
	F func() int
	M map[int]*Node
	C chan *Node
}

type ptrsHuge struct { // 160,008 bytes, its pointers from offset 8 on
	N int
	P [20000]*Node
}

type ptrsErr struct{ s string }

func (e *ptrsErr) Error() string { return e.s }

var (
	ptrsNodes  []Node        // 40 elements, 1280 bytes: a malloc header, then 32-byte elements
	ptrsMixeds []ptrsMixed   // 20 elements, 1120 bytes: a malloc header
	ptrsSmall  []ptrsMixed   // 4 elements, 224 bytes: heap bits in the span
	ptrsIfaces []interface{} // 100 interfaces, 1600 bytes: a malloc header, every second word
	ptrsLarge  []Node        // 3000 elements, 96,000 bytes: a large object, tiled
	ptrsPtrs   []*Node       // 9000 pointers, 72,000 bytes: a large object of pointers
	ptrsBig    *ptrsHuge
)

func ptrsMix(i int, n *Node) ptrsMixed {
	m := map[int]*Node{i: n}
	return ptrsMixed{I: n, E: &ptrsErr{s: "e"}, F: func() int { return n.ID + i }, M: m,
		C: make(chan *Node, 1)}
}

func init() {
	ptrsNodes = make([]Node, 40)
	for i := range ptrsNodes {
		ptrsNodes[i] = Node{Next: &Node{ID: i}, Name: string(rune('a' + i%26)), ID: i}
	}
	ptrsMixeds = make([]ptrsMixed, 20)
	for i := range ptrsMixeds {
		ptrsMixeds[i] = ptrsMix(i, &ptrsNodes[i])
	}
	ptrsSmall = make([]ptrsMixed, 4)
	for i := range ptrsSmall {
		ptrsSmall[i] = ptrsMix(i, ptrsNodes[i].Next)
	}
	ptrsIfaces = make([]interface{}, 100)
	for i := range ptrsIfaces {
		switch i % 3 {
		case 0:
			ptrsIfaces[i] = &ptrsNodes[i%40]
		case 1:
			ptrsIfaces[i] = ptrsNodes[i%40].Name
		}
	}
	ptrsLarge = make([]Node, 3000)
	for i := range ptrsLarge {
		if i%7 == 0 {
			ptrsLarge[i].Next = &ptrsNodes[i%40]
		}
	}
	ptrsPtrs = make([]*Node, 9000)
	for i := range ptrsPtrs {
		if i%5 != 0 {
			ptrsPtrs[i] = ptrsNodes[i%40].Next
		}
	}
	ptrsBig = &ptrsHuge{N: 1}
	for i := range ptrsBig.P {
		if i%11 == 0 {
			ptrsBig.P[i] = &ptrsNodes[i%40]
		}
	}
}
