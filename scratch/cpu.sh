#!/bin/bash
# usage: cpu.sh seconds -> prints CPU seconds used by api (main.js), postgres, autocannon(load.js) during load
snap() { for p in $(pgrep -f "dist/src/main.js"); do echo "api $(awk '{print $14+$15}' /proc/$p/stat)"; done; for p in $(pgrep -f "custodian-try.*pg|postgres: "); do echo "pg $(awk '{print $14+$15}' /proc/$p/stat 2>/dev/null)"; done; }
sum() { awk -v k=$1 '$1==k{s+=$2} END{print s}'; }
A1=$(snap | sum api); P1=$(snap | sum pg)
node /work/main/scratch/load.js $1 
A2=$(snap | sum api); P2=$(snap | sum pg)
echo "api cpu s: $(( (A2-A1) ))/100  pg cpu s: $(( (P2-P1) ))/100"
