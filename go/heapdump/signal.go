package heapdump

import (
	"log"
	"os"
	"os/signal"
	"sync"
)

// OnSignal writes a dump into dir (named by FileName) each time the process receives one of
// sig, until stop is called. Errors are logged, never fatal: a failed dump must not take the
// service down.
//
//	stop := heapdump.OnSignal("/var/tmp", syscall.SIGUSR1)
//	defer stop()
func OnSignal(dir string, sig ...os.Signal) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sig...)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ch:
				if err := WriteFile(FileName(dir)); err != nil {
					log.Printf("%v", err)
				}
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
			wg.Wait()
		})
	}
}
