package serial_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/creack/pty"

	serialdrv "tillpay/drivers/serial" // also registers the "serial" scheme
	"tillpay/scanner"
)

// Open a serial scan gun by address and frame its bytes into codes. A
// pseudo-terminal stands in for the scan gun here; on a till the address
// would be serial:/dev/ttyACM0?... or serial:usb=0c2e:0b61.
func Example() {
	gun, port, err := pty.Open()
	if err != nil {
		log.Fatal(err)
	}
	defer gun.Close()
	port.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr, err := scanner.ParseAddress("serial:" + port.Name() + "?baud=115200&suffix=cr")
	if err != nil {
		log.Fatal(err)
	}
	drv, err := scanner.Lookup(addr.Scheme)
	if err != nil {
		log.Fatal(err)
	}
	src, err := drv.Open(ctx, addr)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	cfg, err := scanner.ParseFrameConfig(addr.Params)
	if err != nil {
		log.Fatal(err)
	}
	framer := scanner.NewFramer(addr.Raw, cfg)

	// The scan gun reads a QR payment code, with AIM identifier and CR.
	gun.Write([]byte("]Q1134523456789012345\r"))

	for done := false; !done; {
		c, err := src.Next(ctx)
		if err != nil {
			log.Fatal(err)
		}
		framer.Feed(c, func(s scanner.Scan, err error) {
			if err != nil {
				log.Fatal(err)
			}
			fmt.Println(s.Symbology, s.Label, fmt.Sprintf("%q", s.Raw))
			done = true
		})
	}
	// Output: QR 134523456789012345 "]Q1134523456789012345\r"
}

// List the serial ports with the address that opens each one.
func ExamplePorts() {
	ports, err := serialdrv.Ports(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range ports {
		fmt.Println(p.Path, p.Address(), p.Product)
	}
}
