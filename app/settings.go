package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"tillpay/config"
	"tillpay/drivers/hid"
	"tillpay/drivers/serial"
	"tillpay/paycode"
	"tillpay/scanner"
	"tillpay/till"
)

// settingsScreen edits the till's configuration file (the one the till
// was started with, config.DefaultPath() by default). Language and sound
// apply at once; the backend, the offline policy and the scanners apply by
// restarting the till stack in the window (refused while a payment is
// under way).
type settingsScreen struct {
	u       *UI
	content fyne.CanvasObject

	scanners []string

	language  *widget.Select
	sound     *widget.Check
	backend   *entry
	mode      *widget.Select
	maxPay    *entry
	maxTotal  *entry
	maxCount  *entry
	addr      *entry
	list      *fyne.Container
	status    *widget.Label
	testLog   *widget.Label
	testDev   string
	testLines []string
}

func newSettingsScreen(u *UI) *settingsScreen {
	s := &settingsScreen{u: u}
	names := make([]string, len(languages))
	for i, c := range languages {
		names[i] = languageName(c)
	}
	s.language = widget.NewSelect(names, nil)
	s.sound = widget.NewCheck(T("Sound for results (success and failure tones)"), func(bool) { u.win.Canvas().Unfocus() })
	s.backend = newEntry(u.in)
	s.backend.SetPlaceHolder(T("empty: the bundled backend"))
	s.mode = widget.NewSelect([]string{config.PreferOnline, config.RequireOnline, config.ForceOffline}, nil)
	s.maxPay, s.maxTotal, s.maxCount = newEntry(u.in), newEntry(u.in), newEntry(u.in)
	s.addr = newEntry(u.in)
	s.addr.SetPlaceHolder("serial:/dev/ttyACM0?suffix=cr   hid:0c2e:0b61   sim:tcp=127.0.0.1:7000")
	s.list = container.NewVBox()
	s.status = widget.NewLabel("")
	s.status.Wrapping = fyne.TextWrapWord
	s.status.TextStyle.Bold = true

	form := widget.NewForm(
		widget.NewFormItem(T("Language"), s.language),
		widget.NewFormItem(T("Sound"), s.sound),
		widget.NewFormItem(T("Backend URL"), s.backend),
		widget.NewFormItem(T("Offline mode"), s.mode),
		widget.NewFormItem(T("Offline: most per payment"), s.maxPay),
		widget.NewFormItem(T("Offline: most stored in total"), s.maxTotal),
		widget.NewFormItem(T("Offline: most payments stored"), s.maxCount),
	)
	scanBox := container.NewVBox(
		widget.NewLabelWithStyle(T("Scanners"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		widget.NewLabel(T("A keyboard-wedge scan gun needs no entry: it types into this window.")),
		s.list,
		container.NewBorder(nil, nil, nil, container.NewHBox(
			widget.NewButton(T("Add"), func() { s.add(s.addr.Text) }),
			widget.NewButton(T("Test"), func() { s.test(strings.TrimSpace(s.addr.Text)) }),
			widget.NewButton(T("Discover…"), s.discover)), s.addr),
	)
	apply := widget.NewButton(T("Save and apply"), s.apply)
	apply.Importance = widget.HighImportance
	path := widget.NewLabel(fmt.Sprintf(T("Settings file: %s"), u.opt.ConfigPath))
	path.Truncation = fyne.TextTruncateEllipsis
	body := container.NewVBox(form, widget.NewSeparator(), scanBox, widget.NewSeparator(),
		container.NewHBox(apply, layout.NewSpacer()), s.status, path)
	s.content = container.NewVScroll(container.NewPadded(body))
	s.load()
	return s
}

// load fills the fields from the configuration in use.
func (s *settingsScreen) load() {
	c := s.u.cfg
	s.language.SetSelected(languageName(c.Language))
	s.sound.SetChecked(c.Sound)
	s.backend.SetText(c.Backend)
	s.mode.SetSelected(c.Offline.Mode)
	s.maxPay.SetText(c.Offline.MaxPayment)
	s.maxTotal.SetText(c.Offline.MaxTotal)
	s.maxCount.SetText(strconv.Itoa(c.Offline.MaxCount))
	s.scanners = slices.Clone(c.Scanners)
	s.renderList()
}

func (s *settingsScreen) renderList() {
	objs := []fyne.CanvasObject{}
	for _, a := range s.scanners {
		objs = append(objs, container.NewBorder(nil, nil, nil, container.NewHBox(
			widget.NewButton(T("Test"), func() { s.test(a) }),
			widget.NewButton(T("Remove"), func() { s.remove(a) })), widget.NewLabel(a)))
	}
	if len(objs) == 0 {
		objs = append(objs, widget.NewLabel(T("No serial, HID or simulated scan gun is configured.")))
	}
	s.list.Objects = objs
	s.list.Refresh()
}

func (s *settingsScreen) add(addr string) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return
	}
	if _, err := scanner.ParseAddress(addr); err != nil {
		s.status.SetText(err.Error())
		return
	}
	if addr == "wedge" {
		s.status.SetText(T("The keyboard wedge is always on in the window."))
		return
	}
	if !slices.Contains(s.scanners, addr) {
		s.scanners = append(s.scanners, addr)
	}
	s.addr.SetText("")
	s.status.SetText(T("Added; save and apply to use it."))
	s.renderList()
}

func (s *settingsScreen) remove(addr string) {
	s.scanners = slices.DeleteFunc(s.scanners, func(a string) bool { return a == addr })
	s.status.SetText(T("Removed; save and apply to stop using it."))
	s.renderList()
}

// edited returns c with the screen's fields laid over it.
func (s *settingsScreen) edited(c config.Config) (config.Config, error) {
	c.Language = languageCode(s.language.Selected)
	c.Sound = s.sound.Checked
	c.Backend = strings.TrimRight(strings.TrimSpace(s.backend.Text), "/")
	c.Offline.Mode = s.mode.Selected
	c.Offline.MaxPayment = strings.TrimSpace(s.maxPay.Text)
	c.Offline.MaxTotal = strings.TrimSpace(s.maxTotal.Text)
	n, err := strconv.Atoi(strings.TrimSpace(s.maxCount.Text))
	if err != nil {
		return c, fmt.Errorf(T("most payments stored: %q is not a whole number"), s.maxCount.Text)
	}
	c.Offline.MaxCount = n
	c.Scanners = slices.Clone(s.scanners)
	return c, c.Validate()
}

// apply saves the settings and puts them to use.
func (s *settingsScreen) apply() {
	next, err := s.edited(s.u.cfg)
	if err != nil {
		s.status.SetText(fmt.Sprintf(T("Not saved: %v"), err))
		return
	}
	file, err := config.Load(s.u.opt.ConfigPath, true)
	if err != nil {
		s.status.SetText(fmt.Sprintf(T("Not saved: %v"), err))
		return
	}
	if file, err = s.edited(file); err == nil {
		err = config.Save(s.u.opt.ConfigPath, file)
	}
	if err != nil {
		s.status.SetText(fmt.Sprintf(T("Not saved: %v"), err))
		return
	}
	prev := s.u.cfg
	restart := prev.Backend != next.Backend || prev.Offline != next.Offline || !slices.Equal(prev.Scanners, next.Scanners)
	s.u.sound.SetEnabled(next.Sound)
	msg := fmt.Sprintf(T("Saved to %s."), s.u.opt.ConfigPath)
	switch {
	case restart && s.u.busy():
		s.u.cfg.Language, s.u.cfg.Sound = next.Language, next.Sound
		msg += " " + T("A payment is under way: apply again when it is done to restart the till with the new settings.")
	case restart:
		msg += " " + T("The till is restarting with the new settings.")
		s.u.restart(next)
	default:
		s.u.cfg = next
	}
	if next.Language != prev.Language && !s.u.busy() {
		setupLanguage(next.Language)
		s.u.build()
		s.u.tabs.SelectIndex(3)
		s.u.settings.status.SetText(msg)
		return
	}
	s.status.SetText(msg)
}

// scanned shows a till scan in an open test.
func (s *settingsScreen) scanned(ev till.Event) {
	if s.testLog == nil || (s.testDev != ev.Device && !strings.HasPrefix(ev.Device, s.testDev)) {
		return
	}
	s.testLine(fmt.Sprintf("%s  %s  %s  %s", time.Now().Format("15:04:05.000"), ev.Device, ev.Symbology, ev.Code))
}

func (s *settingsScreen) testLine(l string) {
	s.testLines = append(s.testLines, l)
	if len(s.testLines) > 12 {
		s.testLines = s.testLines[1:]
	}
	s.testLog.SetText(strings.Join(s.testLines, "\n"))
}

// test shows scans of one scan gun live: of the till's own guns from its
// events, of another address by opening it for the test.
func (s *settingsScreen) test(addr string) {
	if addr == "" {
		s.status.SetText(T("Type a scanner address first."))
		return
	}
	s.testDev, s.testLines = addr, nil
	s.testLog = widget.NewLabel(T("Scan a code now…"))
	s.testLog.TextStyle.Monospace = true
	var stop context.CancelFunc
	inUse := addr == "wedge" || slices.Contains(s.u.cfg.Scanners, addr)
	if !inUse {
		m, err := scanner.NewManager([]string{addr}, scanner.WithLogger(s.u.log))
		if err != nil {
			s.status.SetText(err.Error())
			s.testLog = nil
			return
		}
		var ctx context.Context
		ctx, stop = context.WithCancel(s.u.ctx)
		go func() { _ = m.Run(ctx) }()
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case ev := <-m.Events():
					line := ""
					switch ev.Kind {
					case scanner.EventScan:
						line = fmt.Sprintf("%s  %s  %s", ev.Time.Format("15:04:05.000"), ev.Scan.Symbology, paycode.Mask(ev.Scan.Label))
					case scanner.EventStatus:
						line = fmt.Sprintf("%s  %s %s", ev.Time.Format("15:04:05.000"), ev.State, ev.Detail)
					case scanner.EventBadScan:
						line = fmt.Sprintf("%s  %s %s", ev.Time.Format("15:04:05.000"), T("unreadable:"), ev.Detail)
					}
					s.u.post(func() {
						if s.testLog != nil && line != "" {
							s.testLine(line)
						}
					})
				}
			}
		}()
	}
	d := dialog.NewCustom(fmt.Sprintf(T("Scanner test: %s"), addr), T("Close"),
		container.NewGridWrap(fyne.NewSize(620, 300), container.NewVScroll(s.testLog)), s.u.win)
	d.SetOnClosed(func() {
		if stop != nil {
			stop()
		}
		s.testLog = nil
	})
	d.Show()
}

// portList is what discovery found.
type portList struct {
	serial []serial.PortInfo
	hid    []hid.DeviceInfo
	err    error
}

// discover lists the machine's serial ports and USB HID devices.
func (s *settingsScreen) discover() {
	ctx, cancel := context.WithTimeout(s.u.ctx, 10*time.Second)
	async(s.u, func() (portList, error) {
		defer cancel()
		var l portList
		var err1, err2 error
		l.serial, err1 = serial.Ports(ctx)
		l.hid, err2 = hid.List(ctx)
		l.err = errors.Join(err1, err2)
		return l, nil
	}, func(l portList, _ error) {
		box := container.NewVBox()
		for _, p := range l.serial {
			a := p.Address()
			desc := p.Path
			if p.USB {
				desc += "  " + strings.TrimSpace(p.Manufacturer+" "+p.Product)
			}
			box.Add(container.NewBorder(nil, nil, nil, widget.NewButton(T("Add"), func() { s.add(a) }), widget.NewLabel(desc+"  →  "+a)))
		}
		for _, d := range l.hid {
			a := fmt.Sprintf("hid:%04x:%04x", d.VendorID, d.ProductID)
			box.Add(container.NewBorder(nil, nil, nil, widget.NewButton(T("Add"), func() { s.add(a) }), widget.NewLabel(strings.TrimSpace(d.Manufacturer+" "+d.Product)+"  →  "+a)))
		}
		if len(l.serial)+len(l.hid) == 0 {
			box.Add(widget.NewLabel(T("No serial port or USB HID scan gun was found. Add one by its address below.")))
		}
		if l.err != nil {
			e := widget.NewLabel(l.err.Error())
			e.Wrapping = fyne.TextWrapWord
			box.Add(e)
		}
		dialog.ShowCustom(T("Scan guns found"), T("Close"), container.NewGridWrap(fyne.NewSize(640, 280), container.NewVScroll(box)), s.u.win)
	})
}
