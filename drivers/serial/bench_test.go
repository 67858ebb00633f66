package serial

import (
	"context"
	"testing"
)

// BenchmarkSourceThroughput measures bytes per second from a
// pseudo-terminal through a Source.
func BenchmarkSourceThroughput(b *testing.B) {
	master, path := newPty(b)
	src := openSource(b, New(), "serial:"+path+"?baud=115200")
	block := make([]byte, 4096)
	for i := range block {
		block[i] = '0' + byte(i%10)
	}
	b.SetBytes(int64(len(block)))
	b.ReportAllocs()
	errc := make(chan error, 1)
	go func() {
		for i := 0; i < b.N; i++ {
			if _, err := master.Write(block); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	ctx := context.Background()
	want := b.N * len(block)
	for got := 0; got < want; {
		c, err := src.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		got += len(c.Data)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}
