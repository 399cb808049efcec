package simhost

import (
	"os"
	"os/signal"
	"syscall"
)

func waitSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, os.Interrupt)
	<-ch
}
