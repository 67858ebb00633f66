// Peer for the serial scan latency benchmark: reads CR-terminated codes from
// a serial port with Node's serialport and its readline parser, and prints,
// for each code, the CLOCK_MONOTONIC time (ns) at which the parser delivered
// it, then the code: "<ns> <code>". Prints "ready" once the port is open.
//
// Usage: node peer.js <port path> [baud]
'use strict';

const { SerialPort } = require('serialport');
const { ReadlineParser } = require('@serialport/parser-readline');

const path = process.argv[2];
const baudRate = Number(process.argv[3] || 115200);
if (!path) {
  process.stderr.write('usage: node peer.js <port path> [baud]\n');
  process.exit(2);
}

const port = new SerialPort({ path, baudRate, autoOpen: false });
const parser = port.pipe(new ReadlineParser({ delimiter: '\r' }));

parser.on('data', (line) => {
  const t = process.hrtime.bigint(); // CLOCK_MONOTONIC on Linux
  process.stdout.write(`${t} ${line}\n`);
});

port.on('error', (err) => {
  process.stderr.write(`peer: ${err.message}\n`);
  process.exit(1);
});
port.on('close', () => process.exit(0));

port.open((err) => {
  if (err) {
    process.stderr.write(`peer: open ${path}: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write('ready\n');
});

// The harness closes stdin to stop the peer.
process.stdin.on('end', () => port.close(() => process.exit(0)));
process.stdin.resume();
