#!/usr/bin/env bash
# Rebuilds samples/call_dual_channel.wav from text with espeak-ng and sox (Debian packages).
# Agent on the left channel, customer on the right, 16 kHz 16-bit (tests derive 8 kHz telephone copies from it).
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
say() { espeak-ng -v "$1" -s "$2" -w "$tmp/$3.wav" "$4"; sox "$tmp/$3.wav" -r 16000 -c 1 "$tmp/$3_8k.wav"; }
say en-us 165 a1 "Thank you for calling Northwind Bank, my name is Sarah. How can I help you today?"
say en-gb 140 c1 "Hi. I lost my card yesterday and I think someone has stolen it. There is a payment I do not recognise."
say en-us 165 a2 "I am sorry to hear that. I will block the card right away and order you a new one."
say en-gb 140 c2 "Thank you. Please block it now."
# timeline: each turn padded with silence so the two channels alternate
pad() { sox "$tmp/$1_8k.wav" "$tmp/$1_p.wav" pad "$2" "$3"; }
len() { soxi -D "$tmp/$1_8k.wav"; }
a1=$(len a1); c1=$(len c1); a2=$(len a2); c2=$(len c2)
t1=$(echo "$a1 + 0.6" | bc); t2=$(echo "$t1 + $c1 + 0.6" | bc); t3=$(echo "$t2 + $a2 + 0.6" | bc)
sox "$tmp/a1_8k.wav" "$tmp/left1.wav" pad 0 "$(echo "$t2 - $a1" | bc)"
sox "$tmp/a2_8k.wav" "$tmp/left2.wav" pad 0 "$(echo "$c2 + 1.0" | bc)"
sox "$tmp/left1.wav" "$tmp/left2.wav" "$tmp/left.wav"
sox "$tmp/c1_8k.wav" "$tmp/right1.wav" pad "$t1" "$(echo "$t3 - $t1 - $c1" | bc)"
sox "$tmp/c2_8k.wav" "$tmp/right2.wav" pad 0 0.5
sox "$tmp/right1.wav" "$tmp/right2.wav" "$tmp/right.wav"
sox -M "$tmp/left.wav" "$tmp/right.wav" -r 16000 -b 16 call_dual_channel.wav
soxi call_dual_channel.wav
