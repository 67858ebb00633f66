package hid_test

import (
	"context"
	"fmt"

	"tillpay/drivers/hid"
	"tillpay/scanner"
)

// A Honeywell gun in HID POS mode, replayed: one QR payment code in one
// scanned-data report (report ID 2, length, AIM "]Q1", data, code id 's'
// at [61], continuation 0 at [63]).
func Example() {
	report := make([]byte, 64)
	report[0], report[1] = 0x02, 18
	copy(report[2:], "]Q1134567890123456789")
	report[61] = 's'
	gun := hid.NewReplayDevice(hid.DeviceInfo{VendorID: 0x0c2e, ProductID: 0x0b61, Path: "0001:0004:00"}, report)
	drv := hid.New(hid.WithBackend(hid.NewReplay(gun)))

	addr, _ := scanner.ParseAddress("hid:0c2e:0b61?mode=pos")
	src, err := drv.Open(context.Background(), addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	c, err := src.Next(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(c.Data), c.Symbology, c.AIM, c.Framed)
	// Output: 134567890123456789 QR ]Q1 true
}

// Keyboard-emulation reports decode with a US table whatever the desktop
// layout: Shift+'1' is '!', Alt+0,8,3 is 'S', Enter is CR.
func ExampleKeyboardDecoder() {
	var d hid.KeyboardDecoder
	var out []byte
	for _, r := range [][]byte{
		{0x02, 0, 0x1e, 0, 0, 0, 0, 0}, // Shift + 1
		{0, 0, 0, 0, 0, 0, 0, 0},
		{0x04, 0, 0x62, 0x60, 0x5b, 0, 0, 0}, // Alt + keypad 0 8 3
		{0, 0, 0, 0, 0, 0, 0, 0},
		{0, 0, 0x28, 0, 0, 0, 0, 0}, // Enter
	} {
		out, _ = d.Decode(out, r)
	}
	fmt.Printf("%q\n", out)
	// Output: "!S\r"
}
