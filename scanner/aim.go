package scanner

// AIM symbology identifiers are "]" + a code character + a modifier
// character (ISO/IEC 15424). The table maps the ones a till meets; an
// identifier it does not know still parses, with symbology Unknown.

// Symbologies beyond the common ones, named by their AIM code character.
const (
	Code93      Symbology = "Code93"
	GS1DataBar  Symbology = "GS1-DataBar"
	MaxiCode    Symbology = "MaxiCode"
	Code11      Symbology = "Code11"
	MSIPlessey  Symbology = "MSI"
	Telepen     Symbology = "Telepen"
	HanXin      Symbology = "HanXin"
	GridMatrix  Symbology = "GridMatrix"
	DotCode     Symbology = "DotCode"
	CodablockF  Symbology = "Codablock-F"
	ChannelCode Symbology = "ChannelCode"
)

type aimKey struct{ code, mod byte }

type aimInfo struct {
	id  string
	sym Symbology
}

// aimByCode gives the symbology of a code character when every modifier
// means the same symbology.
var aimByCode = map[byte]Symbology{
	'A': Code39, 'C': Code128, 'H': Code11, 'E': EAN13,
	'F': Codabar, 'G': Code93, 'I': ITF, 'L': PDF417, 'M': MSIPlessey,
	'O': CodablockF, 'Q': QR, 'U': MaxiCode, 'X': Unknown, 'd': DataMatrix,
	'e': GS1DataBar, 'h': HanXin, 'g': GridMatrix, 'J': DotCode, 'z': Aztec,
	'B': Telepen, 'c': ChannelCode,
}

// aimExact holds identifiers whose modifier changes the symbology, and
// interns the common identifiers so that framing them does not allocate.
var aimExact = map[aimKey]Symbology{
	{'C', '0'}: Code128, {'C', '1'}: GS1128, {'C', '2'}: Code128, {'C', '4'}: Code128,
	{'E', '0'}: EAN13, {'E', '1'}: EAN13, {'E', '2'}: EAN13, {'E', '3'}: EAN13, {'E', '4'}: EAN8,
	{'Q', '0'}: QR, {'Q', '1'}: QR, {'Q', '2'}: QR, {'Q', '3'}: QR, {'Q', '4'}: QR, {'Q', '5'}: QR, {'Q', '6'}: QR,
	{'d', '0'}: DataMatrix, {'d', '1'}: DataMatrix, {'d', '2'}: DataMatrix, {'d', '3'}: DataMatrix,
	{'A', '0'}: Code39, {'I', '0'}: ITF, {'I', '1'}: ITF, {'L', '0'}: PDF417, {'L', '1'}: PDF417, {'L', '2'}: PDF417,
	{'z', '0'}: Aztec, {'z', '1'}: Aztec, {'F', '0'}: Codabar, {'e', '0'}: GS1DataBar, {'G', '0'}: Code93,
}

var aimInterned = func() map[aimKey]aimInfo {
	m := make(map[aimKey]aimInfo, len(aimExact))
	for k, sym := range aimExact {
		m[k] = aimInfo{id: string([]byte{']', k.code, k.mod}), sym: sym}
	}
	return m
}()

// lookupAIM returns the identifier text and symbology of "]" code mod.
func lookupAIM(code, mod byte) (string, Symbology) {
	if in, ok := aimInterned[aimKey{code, mod}]; ok {
		return in.id, in.sym
	}
	id := string([]byte{']', code, mod})
	if sym, ok := aimByCode[code]; ok {
		return id, sym
	}
	return id, Unknown
}

// SymbologyOfAIM returns the symbology an AIM identifier such as "]Q1"
// names, or Unknown.
func SymbologyOfAIM(id string) Symbology {
	if len(id) != 3 || id[0] != ']' {
		return Unknown
	}
	_, sym := lookupAIM(id[1], id[2])
	return sym
}

func isAIMCode(b byte) bool { return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' }

func isAIMModifier(b byte) bool { return b >= '0' && b <= '9' || isAIMCode(b) }
