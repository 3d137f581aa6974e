-- tour: the guided tour behind `echolot lab tour` — what ICMP can tell you, one experiment at a time.
--
-- usage: echolot lab tour [--pcap FILE]     builds a lab, runs this script in its client, removes the lab
--        echolot lab run tour [PCAP]        the same, as a shipped script
--   PCAP  the capture file to write (default tour.pcapng; "" writes none)
--
-- Needs the lab (client — r1 — fault — r2 — server, MTU 1400 between r2
-- and the server): it switches the fault node's rules on and off around
-- its probes with lab.faults.with. Seven steps, each sent and matched by
-- echolot's engine, each ending with what it showed:
--   1. echo requests with a 0xa5 pattern, every payload byte compared
--   2. a link that flips one bit: the damage map names offset and bit
--   3. a link that drops packets carrying 0x7e 0x7e 0x7e 0x7e: all 256
--      one-byte fills swept, the dropped one narrowed down to its
--      shortest run
--   4. path MTU: the router that cannot forward 1500 bytes and the MTU
--      it names; the kernel's cached path MTU before and after
--   5. record route, as ping -R sends it
--   6. internet timestamps, and what happens when the option is full
--   7. TTL exceeded from r2 while the fault node rewrites TOS: the quote
--      shows the probe as r2 saw it, so the diff names the rewrite
-- Everything sent and received goes to PCAP, every answer's comment
-- naming its probe (Wireshark: View > Packet Comments).
-- Exit status: 0 when every step found what it shows, 1 when one did not
-- (the summary says which), 2 outside a lab or on bad arguments.

if not lab or not lab.faults or not lab.server then
  print("tour: this script needs echolot's lab and its fault node: run  sudo echolot lab tour")
  exit(2)
end
local pcap = arg[1] or "tour.pcapng"
local dst = lab.server.ip4
local step, summary, missed = 0, {}, {}

local function header(title)
  step = step + 1
  printf("\n== %d. %s ==\n", step, title)
end
-- explain ends a step with what it showed.
local function explain(...) print("-> " .. string.format(...)) end
-- found records a finding for the summary; ok=false marks it missed.
local function found(name, ok, ...)
  summary[#summary + 1] = {name, string.format(...)}
  if not ok then missed[#missed + 1] = name end
end
local function rule(r) printf("# fault node (between r1 and r2): %s\n", r) end
local function ms(x) return x and string.format("%.3f ms", x) or "-" end

if pcap ~= "" then capture(pcap) end
printf("The probes go from the client (%s) to the server (%s); echolot sends, matches and checks them.\n",
  lab.client.ip4, dst)

-- 1 -------------------------------------------------------------------
header("Echo with a pattern, every byte verified")
local probes = {}
for i = 1, 3 do probes[i] = ip{dst=dst} / icmp{} / raw(pattern("a5", 56)) end
local ans = sr(probes, {interval=0.2, timeout=1})
local rows, intact = {}, 0
for _, a in ipairs(ans) do
  if a.kind == "echo-reply" and not a.damage then intact = intact + 1 end
  rows[#rows + 1] = {a.seq, a.kind, whois(a.from), a.ttl, ms(a.rtt), a.damage and "DAMAGED" or "all 56 bytes intact"}
end
printtable({"SEQ", "ANSWER", "FROM", "TTL", "RTT", "PAYLOAD"}, rows)
found("echo", intact == 3, "%d of 3 replies, all 56 payload bytes intact", intact)
explain("The server echoed the 0xa5 pattern back unchanged: echolot compares every byte (ping skips")
print("   the first 16, where it keeps its send time). TTL 62: 64 minus the two routers on the way back.")

-- 2 -------------------------------------------------------------------
header("A link that flips a bit")
local corrupt = "corrupt offset=30 flip=0x01 dir=to-client proto=icmp"
rule(corrupt)
local damaged, map = 0, {}
lab.faults.with(corrupt, function()
  for i = 1, 3 do probes[i] = ip{dst=dst} / icmp{} / raw(pattern("aa", 56)) end
  for _, a in ipairs(sr(probes, {interval=0.2, timeout=1})) do
    if a.damage then
      damaged = damaged + 1
      printf("  seq %d: %s\n", a.seq, a.damage.text)
      for _, b in ipairs(a.damage.bytes) do
        local e = map[b.offset] or {n=0, bits=0}
        e.n, e.bits = e.n + 1, bit.bor(e.bits, bit.bxor(b.sent, b.got))
        map[b.offset] = e
      end
    end
  end
end)
local offs = {}
for off in pairs(map) do offs[#offs + 1] = off end
table.sort(offs)
local where = {}
for _, off in ipairs(offs) do
  where[#where + 1] = string.format("offset %d bits 0x%02x in %d of 3 replies", off, map[off].bits, map[off].n)
end
print("damage map: " .. (#where > 0 and table.concat(where, "; ") or "no damage"))
found("corruption", #offs == 1 and offs[1] == 30 and map[30].bits == 1,
  "%s", #where > 0 and table.concat(where, "; ") or "no damage seen")
explain("The fault node flips bit 0 of data byte 30 in every reply. ping would still count these")
print("   replies as received (exit code 0); echolot counts them as damaged and says where.")

-- 3 -------------------------------------------------------------------
header("Hunting a data-dependent fault")
local drop = "drop pattern=7e7e7e7e dir=to-server proto=icmp"
rule(drop)
print("The fault node now drops some packets because of what they carry. echolot sweeps all 256")
print("one-byte fills (56 bytes each, one probe per fill, resent once when unanswered):")
local dropped, minimal = {}, nil
lab.faults.with(drop, function()
  local fills = {}
  for b = 0, 255 do fills[b + 1] = ip{dst=dst} / icmp{} / raw(pattern(string.format("%02x", b), 56)) end
  local _, unans = sr(fills, {timeout=0.5, retries=1})
  for _, p in ipairs(unans) do dropped[#dropped + 1] = string.format("0x%s", hex(p.payload:sub(1, 1))) end
  printf("dropped: %s; the other %d fills came back.\n", #dropped > 0 and table.concat(dropped, ", ") or "none",
    256 - #dropped)
  if #dropped ~= 1 then return end
  local byte = string.sub(dropped[1], 3)
  -- Narrow down: runs of the byte, each followed by a zero byte.
  local runs = {}
  for run = 1, 12 do
    runs[run] = ip{dst=dst} / icmp{} / raw(pattern(string.rep(byte, run) .. "00", 56))
  end
  local rans = sr(runs, {timeout=0.5, retries=1})
  local passed = {}
  for _, a in ipairs(rans) do passed[a.probe.payload] = true end
  local trows = {}
  for run = 1, 12 do
    local ok = passed[runs[run].payload]
    if not ok and not minimal then minimal = run end
    if not minimal or run <= minimal + 1 then
      trows[#trows + 1] = {run, string.format("%d x 0x%s, then 0x00, repeated to 56 bytes", run, byte),
        ok and "came back" or "DROPPED"}
    end
  end
  printf("Narrowing down: runs of 0x%s separated by a zero byte, 1 to 12 long:\n", byte)
  printtable({"RUN", "PAYLOAD", "RESULT"}, trows)
end)
found("sweep", #dropped == 1 and dropped[1] == "0x7e" and minimal == 4, "dropped %s; shortest dropped run %s bytes",
  #dropped > 0 and table.concat(dropped, ", ") or "nothing", tostring(minimal))
if minimal then
  explain("Payloads carrying %d bytes of %s in a row vanish on the way — the kind of fault `ping -p`", minimal,
    dropped[1])
  print("   exists for, found without guessing. (echolot run patterns does the full hunt.)")
end

-- 4 -------------------------------------------------------------------
header("Path MTU discovery")
local function df(size, ttl)
  return ip{dst=dst, df=true, ttl=ttl or 64} / icmp{} / raw(pattern.ramp(size - 28))
end
-- The kernel's MTU for the route: it refuses a 65000-byte DF datagram
-- locally (EMSGSIZE) and names the MTU it holds.
local function kernel_mtu()
  local a = sr1(df(65000, 1), {timeout=0.5, pmtu="do"})
  return a and a["local"] and a.mtu or nil
end
local before = kernel_mtu()
local pmtu, limiter
local prow = {}
for _, size in ipairs({1500, 1400, 1401}) do
  local a = sr1(df(size), {timeout=1, retries=1})
  prow[#prow + 1] = {size, a and a.kind or "no answer", a and whois(a.from) or "", a and a.mtu or ""}
  if a and a.kind == "frag-needed" and size == 1500 then pmtu, limiter = a.mtu, a.from end
end
local after = kernel_mtu()
printtable({"SIZE", "ANSWER", "FROM", "MTU"}, prow)
printf("kernel's path MTU to %s: %s before, %s after (read from a 65000-byte DF send it refuses locally)\n", dst,
  before and (before .. " bytes") or "unknown", after and (after .. " bytes") or "unknown")
found("pmtu", pmtu == 1400 and nodename(limiter) == "r2", "%s at %s; kernel's cache %s before, %s after",
  tostring(pmtu), whois(limiter), tostring(before), tostring(after))
explain("r2 cannot forward more than %s bytes onto its link to the server, and DF forbids it to", tostring(pmtu))
print("   fragment: it drops the 1500-byte probe and names the MTU (RFC 1191). 1400 bytes pass, 1401 do")
print("   not. The client's kernel read the same error and now caches that MTU for the route.")

-- 5 -------------------------------------------------------------------
header("Record route")
local route = {}
local a = sr1(ip{dst=dst, options={opt.rr(9, {prefill=true})}} / icmp{} / raw(pattern.ramp(56)), {timeout=1, retries=1})
if a and a.packet.ip.rr then route = a.packet.ip.rr end
local rrows = {}
for i, x in ipairs(route) do rrows[#rrows + 1] = {i, whois(x)} end
printtable({"SLOT", "RECORDED"}, rrows)
found("record route", #route == 8, "%s", #route > 0 and table.concat(route, " ") or "nothing recorded")
explain("Every router writes the address it forwards from, out and back (%d entries): the first is the", #route)
print("   client's own, written by the sender as ping -R's kernel does (opt.rr(9, {prefill=true})); the")
print("   fault node is a bridge and records nothing. (echolot run rr explains every slot.)")

-- 6 -------------------------------------------------------------------
header("Timestamps")
local stamps, unrecorded = {}, 0
a = sr1(ip{dst=dst, options={opt.ts("tsandaddr", {prefill=true})}} / icmp{}, {timeout=1, retries=1})
if a and a.packet.ip.ts then
  stamps, unrecorded = a.packet.ip.ts, a.packet.ip.ts.overflow or 0
end
local trows = {}
for i, e in ipairs(stamps) do trows[#trows + 1] = {i, whois(e.addr), e.ms} end
printtable({"#", "ADDRESS", "MS SINCE MIDNIGHT UT"}, trows)
printf("overflow: %d hops found the option full\n", unrecorded)
found("timestamps", #stamps == 4 and unrecorded > 0, "%d stamped, %d found the option full", #stamps, unrecorded)
explain("The option's 40 bytes hold only 4 address+time pairs: the client (stamped by the sender, as")
print("   ping -T's kernel does: opt.ts(\"tsandaddr\", {prefill=true})), r1, r2 and the server filled")
print("   them; every hop after that could only count itself in the option's 4-bit overflow field")
print("   (ping -T tsandaddr's \"Unrecorded hops\"). (echolot run ts explains the other flavours.)")

-- 7 -------------------------------------------------------------------
header("TTL exceeded, and what the quote reveals")
local tos = "tos 0x28 dir=to-server proto=icmp"
rule(tos)
local te, tosch
lab.faults.with(tos, function()
  te = sr1(ip{dst=dst, ttl=2, tos=0x10} / icmp{}, {timeout=1, retries=1})
end)
if te then
  printf("%s from %s quotes our probe; compared with what was sent:\n", te.kind, whois(te.from))
  local crows, names = {}, {}
  local fmt = {tos="0x%02x", dscp="%d", chksum="0x%04x"}
  for name in pairs(te.changes or {}) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local c = te.changes[name]
    local f = fmt[name] or "%s"
    crows[#crows + 1] = {c.expected and "expected" or "CHANGED", name,
      string.format(f, c.sent) .. " -> " .. string.format(f, c.seen), c.note or ""}
  end
  printtable({"", "FIELD", "SENT -> QUOTED", "NOTE"}, crows)
  tosch = te.changes and te.changes.tos
end
found("quote", te and te.kind == "time-exceeded" and nodename(te.from) == "r2" and tosch and tosch.sent == 0x10 and
  tosch.seen == 0x28 and not tosch.expected, "%s from %s: tos %s",
  te and te.kind or "no answer", whois(te and te.from), tosch and string.format("0x%02x -> 0x%02x", tosch.sent,
  tosch.seen) or "unchanged")
explain("r2 quoted the probe as it arrived: with TOS 0x28, not the 0x10 the client sent, so something")
print("   between r1 and r2 rewrote it — here the fault node; on a real path, a re-marking hop.")

-- Summary ---------------------------------------------------------------
print("\n== What the tour found ==")
printtable({"STEP", "FINDING"}, summary)
if pcap ~= "" then
  local n = capture()
  printf("\nWrote %d packets to %s; every answer's comment names its probe (Wireshark: View > Packet Comments).\n", n,
    pcap)
end
if #missed > 0 then
  printf("\nNot as expected: %s. Is the lab the default one (echolot lab tour builds it)?\n", table.concat(missed, ", "))
  exit(1)
end
exit(0)
