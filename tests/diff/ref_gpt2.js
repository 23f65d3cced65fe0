// Reference GPT-2 encoder for the differential tests: npm gpt-3-encoder.
// Reads NDJSON {"text": ...} lines on stdin, writes {"tokens": [...]} lines.
'use strict';
const { encode } = require('gpt-3-encoder');
const readline = require('readline');

const out = [];
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', (line) => {
	out.push(JSON.stringify({ tokens: encode(JSON.parse(line).text) }));
});
rl.on('close', () => {
	process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
});
