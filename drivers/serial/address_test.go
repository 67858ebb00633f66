package serial

import (
	"errors"
	"os"
	"testing"

	bugst "go.bug.st/serial"

	"tillpay/scanner"
)

func TestParseConfig(t *testing.T) {
	cases := []struct {
		addr   string
		path   string
		usb    string
		baud   int
		data   int
		parity bugst.Parity
		stop   bugst.StopBits
	}{
		{"serial:/dev/ttyACM0", "/dev/ttyACM0", "", 9600, 8, bugst.NoParity, bugst.OneStopBit},
		{"serial:ttyUSB1", "/dev/ttyUSB1", "", 9600, 8, bugst.NoParity, bugst.OneStopBit},
		{"serial:/dev/ttyACM0?baud=115200&databits=7&parity=even&stopbits=2&suffix=cr", "/dev/ttyACM0", "", 115200, 7, bugst.EvenParity, bugst.TwoStopBits},
		{"SERIAL:/dev/ttyS0?parity=O", "/dev/ttyS0", "", 9600, 8, bugst.OddParity, bugst.OneStopBit},
		{"serial:usb=0c2e:0b61", "", "usb=0c2e:0b61", 9600, 8, bugst.NoParity, bugst.OneStopBit},
		{"serial:usb=0C2E:0B61&serial=ABC123", "", "usb=0c2e:0b61&serial=ABC123", 9600, 8, bugst.NoParity, bugst.OneStopBit},
		{"serial:usb=0c2e:0b61?serial=ABC123&baud=38400", "", "usb=0c2e:0b61&serial=ABC123", 38400, 8, bugst.NoParity, bugst.OneStopBit},
		{"serial:usb=0c2e:0b61&baud=19200&suffix=crlf", "", "usb=0c2e:0b61", 19200, 8, bugst.NoParity, bugst.OneStopBit},
		{"serial:usb=0x1eab:0x1d10", "", "usb=1eab:1d10", 9600, 8, bugst.NoParity, bugst.OneStopBit},
	}
	for _, c := range cases {
		a, err := scanner.ParseAddress(c.addr)
		if err != nil {
			t.Fatalf("%s: %v", c.addr, err)
		}
		cfg, err := parseConfig(a)
		if err != nil {
			t.Errorf("%s: %v", c.addr, err)
			continue
		}
		usb := ""
		if cfg.usb != nil {
			usb = cfg.usb.String()
		}
		if cfg.path != c.path || usb != c.usb || cfg.mode.BaudRate != c.baud || cfg.mode.DataBits != c.data ||
			cfg.mode.Parity != c.parity || cfg.mode.StopBits != c.stop {
			t.Errorf("%s: got path %q usb %q mode %+v", c.addr, cfg.path, usb, cfg.mode)
		}
		if cfg.mode.InitialStatusBits != nil {
			t.Errorf("%s: modem bits set; a pty or an adapter may reject them", c.addr)
		}
	}
}

func TestParseConfigRejects(t *testing.T) {
	for _, s := range []string{
		"serial:",
		"serial:?baud=9600",
		"serial:/dev/ttyACM0?baud=0",
		"serial:/dev/ttyACM0?baud=-9600",
		"serial:/dev/ttyACM0?baud=9600&baud=115200",
		"serial:/dev/ttyACM0?databits=4",
		"serial:/dev/ttyACM0?parity=x",
		"serial:/dev/ttyACM0?stopbits=3",
		"serial:usb=0c2e",
		"serial:usb=0c2e:",
		"serial:usb=0c2e:0b61a",
		"serial:usb=zz:0b61",
		"serial:usb=0c2e:0b61&serial=",
		"serial:usb=0c2e:0b61&usb=1234:5678",
		"serial:usb=0c2e:0b61&baud=9600?baud=9600",
		"serial:vid=0c2e",
		"serial:usb=0c2e:0b61&x=%zz",
	} {
		a, err := scanner.ParseAddress(s)
		if err != nil {
			continue // rejected earlier: fine too
		}
		if _, err := parseConfig(a); !errors.Is(err, scanner.ErrAddress) {
			t.Errorf("%s: got %v, want ErrAddress", s, err)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"serial:/dev/ttyACM0?baud=9600&databits=8&parity=none&stopbits=1&suffix=cr",
		"serial:usb=0c2e:0b61",
		"serial:usb=0c2e:0b61&serial=ABC123",
		"serial:usb=0c2e:0b61?baud=115200&serial=X",
		"serial:ttyUSB0?parity=e",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := scanner.ParseAddress(s)
		if err != nil {
			return
		}
		cfg, err := parseConfig(a)
		if err != nil {
			if !errors.Is(err, scanner.ErrAddress) {
				t.Fatalf("%q: error %v does not wrap ErrAddress", s, err)
			}
			return
		}
		if (cfg.path == "") == (cfg.usb == nil) {
			t.Fatalf("%q: want exactly one of path and usb: %+v", s, cfg)
		}
		if cfg.mode.BaudRate <= 0 || cfg.mode.BaudRate > maxBaud || cfg.mode.DataBits < 5 || cfg.mode.DataBits > 8 {
			t.Fatalf("%q: mode %+v", s, cfg.mode)
		}
		if cfg.usb != nil {
			// The selector prints back to an address that parses the same.
			b, err := scanner.ParseAddress("serial:" + cfg.usb.String())
			if err != nil {
				t.Fatalf("%q: %v", s, err)
			}
			again, err := parseConfig(b)
			if err != nil || again.usb == nil || *again.usb != *cfg.usb {
				t.Fatalf("%q: round trip %q gave %+v, %v", s, cfg.usb.String(), again.usb, err)
			}
		}
	})
}

func TestParseFixtures(t *testing.T) {
	text := "# preamble: file notes\n# more notes\n\n# id: a\n# chunks: '9' '78' ''\n39 37 38\n0d\n\n# id: b\n# format: exchange\nhost: 4c 0d\nscanner: 54 0d\n"
	blocks, err := parseFixtures(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 {
		t.Fatalf("%d blocks", len(blocks))
	}
	if string(blocks[0].stream) != "978\r" || blocks[0].header("id") != "a" {
		t.Errorf("block a: %+v", blocks[0])
	}
	if got := chunkSizes(blocks[0].header("chunks")); len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 0 {
		t.Errorf("chunks %v", got)
	}
	if len(blocks[1].exchange) != 2 || blocks[1].exchange[1].label != "scanner" || string(blocks[1].exchange[1].data) != "T\r" {
		t.Errorf("block b: %+v", blocks[1])
	}
	for _, bad := range []string{"# id: x\n3g\n", "# id: x\n123\n", "39 37\n"} {
		if _, err := parseFixtures(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseFixtures(f *testing.F) {
	if b, err := os.ReadFile("../../testdata/fixtures/serial.txt"); err == nil {
		f.Add(string(b))
	}
	f.Add("# id: a\n# chunks: '9' ''\n39 0d\n")
	f.Fuzz(func(t *testing.T, s string) {
		blocks, err := parseFixtures(s)
		if err != nil {
			return
		}
		total := 0
		for _, b := range blocks {
			if b.header("id") == "" {
				t.Fatal("block without id")
			}
			total += len(b.stream)
			for _, l := range b.exchange {
				total += len(l.data)
			}
			_ = chunkSizes(b.header("chunks"))
		}
		// Each byte takes at least two characters of text.
		if 2*total > len(s) {
			t.Fatalf("%d bytes from %d characters", total, len(s))
		}
	})
}
