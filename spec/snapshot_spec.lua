-- Snapshot isolation and write conflicts (ESE's model, issue 11): a
-- transaction reads the committed state as of its begin plus its own
-- writes; writing a key another open transaction wrote, or that a commit
-- changed after this transaction began, is JET_errWriteConflict; old
-- versions are kept in a version store bounded by max_ver_pages
-- (JET_errVersionStoreOutOfMemory past it).
local ese = require "ese"
local H = require "support.helpers"

local function snapshot_of(t)
  local m = {}
  for k, v in t:pairs() do m[k] = v end
  return m
end

describe("snapshot isolation", function()
  local w, t1, s1, inst, t2, s2, _
  before_each(function()
    w = H.world()
    t1, s1, _, inst = w:table()
    t2, s2 = H.open_table(inst, w.dir)
  end)
  after_each(function() w:cleanup() end)

  describe("reads in a transaction", function()
    it("see the state as of begin_transaction however many commits others make, plus their own writes; "
       .. "reads outside a transaction see the last commit", function()
      for i = 1, 100 do t1:put(("k%04d"):format(i), "old" .. i) end
      local before = snapshot_of(t1)
      s1:begin_transaction()
      assert.are.equal("old7", t1:get("k0007"))             -- read before the others commit
      t1:put("mine", "m")
      t1:delete("k0100")
      -- 1,000 commits of another session: replaces, deletes, inserts, in
      -- transactions and outside
      for i = 1, 1000 do
        local k = ("k%04d"):format((i - 1) % 99 + 1)
        if i % 10 == 0 then
          s2:begin_transaction()
          t2:put(("new%04d"):format(i), "n")
          if t2:get(k) then t2:delete(k) else t2:put(k, "back" .. i) end
          s2:commit_transaction()
        elseif i % 3 == 0 then
          t2:put(("ins%04d"):format(i), "i" .. i)
        else
          t2:put(k, "v" .. i)
        end
      end
      assert.is_true(inst:version_store().bytes > 0)
      -- get: every key as at begin
      for i = 1, 99 do
        local k = ("k%04d"):format(i)
        assert.are.equal(before[k], t1:get(k), k)
      end
      assert.is_nil(t1:get("ins0003"))
      assert.is_nil(t1:get("new0010"))
      -- own writes visible
      assert.are.equal("m", t1:get("mine"))
      assert.is_nil(t1:get("k0100"))
      -- pairs forward (each step a GT seek), whole and in a range
      local want = {}
      for k, v in pairs(before) do want[k] = v end
      want.k0100, want.mine = nil, "m"
      assert.are.same(want, snapshot_of(t1))
      local ks = H.collect(t1, "k0050", "k0060")
      assert.are.equal(11, #ks)
      assert.are.equal("k0050", ks[1])
      local first = H.collect(t1, "j", "k0001")
      assert.are.same({ "k0001" }, first)
      -- backwards, seek, first, last, count: the same snapshot
      local rev = {}
      for k, v in t1:pairs(nil, nil, { reverse = true }) do rev[#rev + 1] = k .. "=" .. v end
      local fwd = {}
      for k, v in t1:pairs() do table.insert(fwd, 1, k .. "=" .. v) end
      assert.are.same(fwd, rev)
      local n = 0
      for _ in pairs(want) do n = n + 1 end
      assert.are.equal(n, t1:count())
      assert.are.equal(11, t1:count("k0050", "k0060"))
      assert.are.same({ "k0001", before.k0001 }, { t1:first() })
      assert.are.same({ "mine", "m" }, { t1:last() })         -- "new..." and "ins..." keys are not there
      assert.are.same({ "k0099", before.k0099 }, { t1:seek("k0100", "le") })   -- own delete hides k0100
      assert.are.same({ "k0099", before.k0099 }, { t1:seek("k0100", "lt") })
      assert.are.same({ "k0005", before.k0005 }, { t1:seek("k0005", "eq") })
      assert.are.same({ "mine", "m" }, { t1:seek("k0100", "ge") })
      assert.are.same({ "k0010", before.k0010 }, { t1:seek("k0009", "gt") })
      assert.is_nil(t1:seek("ins0003", "eq"))
      assert.is_nil(t1:seek("ins9999", "lt"))                  -- below every key of the snapshot
      assert.are.same({ "k0099", before.k0099 }, { t1:seek("m", "lt") })
      -- outside a transaction: the last commit
      assert.are.equal("i3", t2:get("ins0003"))
      assert.is_not.equal(before.k0001, t2:get("k0001"))
      s1:commit_transaction()
      assert.are.equal("m", t2:get("mine"))
      assert.is_nil(t2:get("k0100"))
      assert.are.equal("i3", t1:get("ins0003"))
      local vs = inst:version_store()
      assert.are.equal(0, vs.bytes)
      assert.are.equal(0, vs.versions)
      assert.are.equal(0, vs.transactions)
      assert.are.equal(0, vs.uncommitted)
    end)

    it("a key deleted by another after begin is still there, one inserted is not; a rolled-back "
       .. "transaction of another is never seen", function()
      t1:put("a", "1")
      t1:put("c", "3")
      s1:begin_transaction()
      t2:delete("a")
      t2:put("b", "2")
      s2:begin_transaction()
      t2:put("d", "4")
      s2:rollback()
      assert.are.equal("1", t1:get("a"))
      assert.is_nil(t1:get("b"))
      assert.are.same({ "a", "c" }, (H.collect(t1)))
      s1:rollback()
      assert.are.same({ "b", "c" }, (H.collect(t1)))
    end)

    it("a database whose versions a snapshot needs is not detached (JET_errDatabaseInUse); one detached "
       .. "while a snapshot is open never shows its versions through a database attached later under its "
       .. "number", function()
      t1:put("k", "old")
      local s3 = inst:begin_session()                       -- its snapshot outlives the detach
      s3:begin_transaction()
      t2:put("k", "new")                                    -- keeps "old" for s3's snapshot
      assert.is_true(inst:version_store().versions >= 1)
      t1:close()
      t2:close()
      for _, o in ipairs({ s1, s2 }) do o:end_session() end
      local s4 = inst:begin_session()
      local e = H.expect_jet("JET_errDatabaseInUse", s4.detach_database, s4, w:path("app.edb"))
      assert.matches("snapshot still needs versions", e.detail, 1, true)   -- s3's snapshot needs "old"
      s3:rollback()
      s3:begin_transaction()                                -- a snapshot that needs none of them
      s4:detach_database(w:path("app.edb"))
      local db2 = s4:create_database(w:path("other.edb"))   -- the first free database number again
      local tb = s4:create_table(db2, "t")                  -- and the same root page
      tb:put("k", "b")
      local t3 = s3:open_table(s3:open_database(w:path("other.edb")), "t")
      assert.is_not.equal("old", t3:get("k"))
      assert.is_nil(t3:get("k"))                            -- committed after s3 began
      s3:rollback()
      assert.are.equal("b", t3:get("k"))
      assert.are.equal(0, inst:version_store().bytes)
    end)

    it("a long value replaced and deleted by others: the snapshot reads the old one whole and in slices", function()
      local old = ("o"):rep(300000) .. "end"
      t1:put("lv", old)
      t1:put("lv2", ("x"):rep(50000))
      s1:begin_transaction()
      t2:put("lv", ("n"):rep(200000))                     -- its pages are freed and may be reused
      t2:delete("lv2")
      t2:put("filler", ("f"):rep(400000))
      assert.are.equal(old, t1:get("lv"))
      assert.are.equal("oend", t1:get("lv", 299999, 4))
      assert.are.equal(50000, #t1:get("lv2"))
      assert.are.equal(2, t1:count())
      assert.is_true(inst:version_store().bytes > 350000)
      s1:rollback()
      assert.are.equal(200000, #t1:get("lv"))
      assert.is_nil(t1:get("lv2"))
      assert.are.equal(0, inst:version_store().bytes)
    end)

    it("a transaction that began after a commit sees it", function()
      s1:begin_transaction()
      t2:put("k", "v")
      assert.is_nil(t1:get("k"))
      s1:commit_transaction()
      s1:begin_transaction()
      assert.are.equal("v", t1:get("k"))
      s1:commit_transaction()
    end)
  end)

  describe("JET_errWriteConflict (-1102)", function()
    it("a put of a key another open transaction has written: the write is not applied, the transaction "
       .. "stays open", function()
      t1:put("k", "0")
      s1:begin_transaction()
      s2:begin_transaction()
      t1:put("k", "1")
      local e = H.expect_jet("JET_errWriteConflict", t2.put, t2, "k", "2")
      assert.are.equal(-1102, e.code)
      assert.are.equal("put", e.op)
      assert.matches("open transaction", e.detail, 1, true)
      t2:put("other", "x")                                  -- still in its transaction
      assert.are.equal("0", t2:get("k"))
      s2:commit_transaction()
      s1:commit_transaction()
      assert.are.equal("1", t2:get("k"))
      assert.are.equal("x", t1:get("other"))
    end)

    it("a put of a key another transaction committed after this one began (the other order)", function()
      t1:put("k", "0")
      s1:begin_transaction()
      s2:begin_transaction()
      t2:put("k", "2")
      s2:commit_transaction()
      assert.are.equal("0", t1:get("k"))                    -- the snapshot
      local e = H.expect_jet("JET_errWriteConflict", t1.put, t1, "k", "1")
      assert.matches("after this transaction began", e.detail, 1, true)
      -- rollback, then the retry succeeds
      s1:rollback()
      s1:begin_transaction()
      assert.are.equal("2", t1:get("k"))
      t1:put("k", "3")
      s1:commit_transaction()
      assert.are.equal("3", t2:get("k"))
    end)

    it("a write committed outside a transaction after begin conflicts too; an unrelated key does not", function()
      s1:begin_transaction()
      t2:put("k", "x")                                      -- auto-commit
      H.expect_jet("JET_errWriteConflict", t1.put, t1, "k", "1")
      H.expect_jet("JET_errWriteConflict", t1.delete, t1, "k")   -- a key inserted after begin
      t1:put("j", "1")
      s1:commit_transaction()
      assert.are.equal("x", t2:get("k"))
      assert.are.equal("1", t2:get("j"))
    end)

    it("a key another transaction put and then deleted (absent before and after), committed after this one "
       .. "began: a write of it conflicts too", function()
      s1:begin_transaction()
      s2:begin_transaction()
      t2:put("k", "2")
      t2:put("big", ("L"):rep(100000))                     -- a long value, put and deleted as well
      t2:delete("k")
      t2:delete("big")
      s2:commit_transaction()
      assert.is_nil(t1:get("k"))
      local e = H.expect_jet("JET_errWriteConflict", t1.put, t1, "k", "1")
      assert.matches("after this transaction began", e.detail, 1, true)
      H.expect_jet("JET_errWriteConflict", t1.put, t1, "big", "1")
      t1:put("other", "x")
      s1:commit_transaction()
      assert.is_nil(t2:get("k"))
      assert.is_nil(t2:get("big"))
      assert.are.equal("x", t2:get("other"))
      -- a transaction begun after that commit writes the key freely
      s1:begin_transaction()
      t1:put("k", "3")
      s1:commit_transaction()
      assert.are.equal("3", t2:get("k"))
    end)

    it("delete against put and put against delete, both orders", function()
      t1:put("a", "0")
      t1:put("b", "0")
      s1:begin_transaction()
      s2:begin_transaction()
      t1:delete("a")
      H.expect_jet("JET_errWriteConflict", t2.put, t2, "a", "2")
      H.expect_jet("JET_errWriteConflict", t2.delete, t2, "a")
      t2:put("b", "2")
      H.expect_jet("JET_errWriteConflict", t1.delete, t1, "b")
      s2:commit_transaction()
      s1:commit_transaction()
      assert.is_nil(t1:get("a"))
      assert.are.equal("2", t1:get("b"))
      -- deleted by a commit after begin: a delete and a put conflict
      t1:put("c", "0")
      s1:begin_transaction()
      t2:delete("c")
      H.expect_jet("JET_errWriteConflict", t1.delete, t1, "c")
      H.expect_jet("JET_errWriteConflict", t1.put, t1, "c", "1")
      s1:rollback()
      assert.is_nil(t2:get("c"))
    end)

    it("a put or delete outside a transaction against another's uncommitted write: refused, nothing "
       .. "committed", function()
      t1:put("k", "0")
      s1:begin_transaction()
      t1:put("k", "1")
      t1:put("n", "1")
      H.expect_jet("JET_errWriteConflict", t2.put, t2, "k", "2")
      H.expect_jet("JET_errWriteConflict", t2.delete, t2, "k")
      H.expect_jet("JET_errWriteConflict", t2.put, t2, "n", "2")   -- a key the transaction inserts
      assert.are.equal("0", t2:get("k"))
      s1:rollback()
      t2:put("k", "2")                                      -- the retry succeeds
      assert.are.equal("2", t1:get("k"))
    end)

    it("a session ended with its transaction open releases its keys and versions", function()
      s1:begin_transaction()
      t1:put("k", "1")
      s2:begin_transaction()
      t1:put("x", "1")
      H.expect_jet("JET_errWriteConflict", t2.put, t2, "k", "2")
      s1:end_session()
      s2:rollback()
      t2:put("k", "2")
      assert.are.equal("2", t2:get("k"))
      assert.is_nil(t2:get("x"))
      assert.are.equal(0, inst:version_store().bytes)
    end)

    it("two coroutines incrementing one counter (read, yield, write) with retry on conflict end at the "
       .. "exact sum", function()
      t1:put("counter", "0")
      local n, conflicts = 100, 0
      local function worker(s, t)
        return coroutine.wrap(function()
          local done = 0
          while done < n do
            s:begin_transaction()
            local v = tonumber(t:get("counter"))
            coroutine.yield()
            local ok, e = pcall(t.put, t, "counter", tostring(v + 1))
            if ok then
              s:commit_transaction()
              done = done + 1
            else
              assert.are.equal("JET_errWriteConflict", e.name)
              conflicts = conflicts + 1
              s:rollback()
            end
            coroutine.yield()
          end
          return true
        end)
      end
      local a, b = worker(s1, t1), worker(s2, t2)
      local a_done, b_done
      while not (a_done and b_done) do
        if not a_done then a_done = a() end
        if not b_done then b_done = b() end
      end
      assert.are.equal(tostring(2 * n), t1:get("counter"))
      assert.is_true(conflicts > 0, "conflicts: " .. conflicts)   -- they really interleaved
      assert.are.equal(0, inst:version_store().bytes)
    end)
  end)
end)

describe("the version store limit (max_ver_pages)", function()
  local w
  before_each(function() w = H.world() end)
  after_each(function() w:cleanup() end)

  it("is a parameter: default 16384 pages of 16 KiB (256 MiB), 1 .. 2^20, not after init", function()
    local created = w:create(nil, { max_ver_pages = 2 })
    H.expect_jet("JET_errNotInitialized", created.version_store, created)
    created:init()
    assert.are.equal(2 * 16384, created:version_store().max)
    created:term()
    H.expect_jet("JET_errInvalidInstance", created.version_store, created)
    local inst = w:open()
    assert.are.equal(16384 * 16384, inst:version_store().max)
    H.expect_jet("JET_errAlreadyInitialized", inst.set_params, inst, { max_ver_pages = 8 })
    H.expect_jet("JET_errInvalidParameter", ese.create_instance, H.name(), H.params(w.dir, { max_ver_pages = 0 }))
    H.expect_jet("JET_errInvalidParameter", ese.create_instance, H.name(),
                 H.params(w.dir, { max_ver_pages = (1 << 20) + 1 }))
    H.expect_argerror("must not be negative", ese.create_instance, H.name(), H.params(w.dir, { max_ver_pages = -1 }))
    H.expect_argerror("integer expected", ese.create_instance, H.name(), H.params(w.dir, { max_ver_pages = "1" }))
  end)

  it("a write that would take the uncommitted writes past it: JET_errVersionStoreOutOfMemory (-1069), "
     .. "not applied, the transaction open, the instance carries on", function()
    local t, s, _, inst = w:table({ max_ver_pages = 1 })
    assert.are.equal(16384, inst:version_store().max)
    local big = ("v"):rep(1900)
    s:begin_transaction()
    local put = 0
    local e
    for i = 1, 20 do
      local ok, err = pcall(t.put, t, "k" .. i, big)
      if not ok then e = err break end
      put = i
    end
    assert.are.equal(ese.Error, getmetatable(e))
    assert.are.equal("JET_errVersionStoreOutOfMemory", e.name)
    assert.are.equal(-1069, e.code)
    assert.matches("max_ver_pages", e.detail, 1, true)
    assert.are.equal(8, put)                              -- 8 x (1900 + 2 + 64) fit in 16384, 9 do not
    assert.is_nil(t:get("k9"))
    assert.is_true(inst:version_store().uncommitted <= 16384)
    t:put("k1", "small")                                  -- replacing with less always fits
    t:put("k9", "small")                                  -- and then a small one fits again
    s:commit_transaction()
    assert.are.equal(big, t:get("k2"))
    assert.are.equal("small", t:get("k9"))
    assert.are.equal(0, inst:version_store().uncommitted)
    -- outside a transaction nothing is uncommitted or kept: no limit
    for i = 1, 20 do t:put("k" .. i, big) end
  end)

  it("a commit whose before images would pass it: -1069 before anything is applied, the transaction "
     .. "stays open; once the old snapshot ends it commits; version_store() returns to 0", function()
    local t1, s1, _, inst = w:table({ max_ver_pages = 1 })
    local big = ("v"):rep(2000)                           -- 8 x (2000 + 64) > 16384
    for i = 1, 8 do t1:put("k" .. i, big) end
    local t2, s2 = H.open_table(inst, w.dir)
    s1:begin_transaction()                                -- an old snapshot
    assert.are.equal(big, t1:get("k1"))
    s2:begin_transaction()
    for i = 1, 8 do t2:put("k" .. i, "x") end
    local e = H.expect_jet("JET_errVersionStoreOutOfMemory", s2.commit_transaction, s2)
    assert.are.equal("commit_transaction", e.op)
    assert.are.equal(big, t1:get("k3"))
    assert.are.equal(0, inst:version_store().bytes)
    -- nothing applied: outside a transaction the old values
    local t3, s3 = H.open_table(inst, w.dir)
    assert.are.equal(big, t3:get("k8"))
    -- a write outside a transaction whose before image does not fit either
    t3:put("small", "s")                                  -- an insert: its "absent" image fits
    assert.is_true(inst:version_store().bytes > 0)
    H.expect_jet("JET_errWriteConflict", t3.put, t3, "k1", "y")   -- s2 holds k1
    -- the transaction is still open: its own writes are visible to it
    assert.are.equal("x", t2:get("k4"))
    s1:rollback()                                         -- the old snapshot ends
    s2:commit_transaction()
    assert.are.equal(0, inst:version_store().bytes)
    for i = 1, 8 do assert.are.equal("x", t3:get("k" .. i)) end
    s3:begin_transaction()
    local vs = inst:version_store()
    assert.are.same({ bytes = 0, versions = 0, uncommitted = 0, max = 16384, transactions = 1 }, vs)
    s3:rollback()
  end)

  it("a write outside a transaction whose before image passes it: -1069, nothing committed", function()
    local t1, s1, _, inst = w:table({ max_ver_pages = 1 })
    local big = ("v"):rep(1900)
    for i = 1, 9 do t1:put("k" .. i, big) end
    local t2 = H.open_table(inst, w.dir)
    s1:begin_transaction()
    local replaced, e = 0, nil
    for i = 1, 9 do
      local ok, err = pcall(t2.put, t2, "k" .. i, "y")
      if not ok then e = err break end
      replaced = i
    end
    assert.are.equal("JET_errVersionStoreOutOfMemory", e and e.name)
    assert.is_nil(tostring(e):find("the transaction stays open", 1, true), "no transaction: " .. tostring(e))
    assert.are.equal(8, replaced)
    assert.are.equal(big, t2:get("k9"))
    for i = 1, 9 do assert.are.equal(big, t1:get("k" .. i)) end   -- the snapshot holds
    s1:commit_transaction()
    assert.are.equal(0, inst:version_store().bytes)
    t2:put("k9", "y")
    assert.are.equal("y", t1:get("k9"))
  end)
end)

describe("backups and isolation", function()
  it("a backup taken while a transaction has uncommitted writes holds committed data only", function()
    local w = H.world()
    finally(function() w:cleanup() end)
    local t1, s1, _, inst = w:table({ log_file_size = 64 })
    local t2 = H.open_table(inst, w.dir)
    for i = 1, 30 do t1:put(("c%02d"):format(i), "committed") end
    s1:begin_transaction()
    for i = 1, 30 do t1:put(("u%02d"):format(i), "uncommitted") end
    t1:delete("c01")
    t1:put("c02", "changed")
    local set = w:path("set")
    H.backup(inst, set, { between = function() t2:put("during", "x") end })
    s1:commit_transaction()
    local dest = w:path("dest")
    ese.restore({ set }, dest)
    local keys = H.restored_keys(w, dest)
    assert.are.equal(30, H.count_prefix(keys, "c"))
    assert.are.equal(0, H.count_prefix(keys, "u"))
    assert.is_true(keys.during)
  end)
end)

describe("C harness snapshot_bank (threads)", function()
  it("movers transfer between accounts in transactions with retry on JET_errWriteConflict while summers sum "
     .. "every account in snapshot transactions (forward, backward, by key): every sum is the starting total; "
     .. "after kill -9 mid-run and recovery the total still holds", function()
    local ok, out, last = H.run_harness("snapshot_bank", "4 2 1000")
    assert.is_true(ok, out)
    assert.are.equal("snapshot_bank: ok", last)
    local commits, conflicts, sums = out:match("(%d+) transfers committed, (%d+) write conflicts retried, "
                                               .. "(%d+) snapshot sums")
    assert.is_truthy(commits, out)
    assert.is_true(tonumber(commits) >= 100 and tonumber(conflicts) >= 1 and tonumber(sums) >= 10, out)
    assert.matches("round 2 %(kill %-9 mid%-run%): (%d+) transfers", out)
  end)
  it("the same with every balance a long value (up to 20000 filler bytes, a function of the balance): "
     .. "every read of a snapshot or of the recovered state holds the whole value of one balance", function()
    local ok, out, last = H.run_harness("snapshot_bank", "4 2 1000 20000")
    assert.is_true(ok, out)
    assert.are.equal("snapshot_bank: ok", last)
    local commits, sums = out:match("(%d+) transfers committed, %d+ write conflicts retried, (%d+) snapshot sums")
    assert.is_true(tonumber(commits) >= 10 and tonumber(sums) >= 1, out)
  end)
end)

describe("C harness snapshot_seek (a model of every seek)", function()
  it("in 300 rounds of interleaved writes by a transaction, by writers outside and inside short transactions "
     .. "and a second snapshot begun half-way, every EQ/LT/LE/GE/GT seek at, between, before and after the keys "
     .. "finds what the model of each snapshot says; writes of held or later-committed keys are "
     .. "JET_errWriteConflict, others succeed; the version store is empty between rounds", function()
    local ok, out, last = H.run_harness("snapshot_seek", "300 1")
    assert.is_true(ok, out)
    local seeks, writes, conflicts = last:match("^snapshot_seek: ok 300 rounds, (%d+) seeks checked, (%d+) writes, "
                                                .. "(%d+) write conflicts")
    assert.is_truthy(seeks, out)
    assert.is_true(tonumber(seeks) >= 1000000 and tonumber(writes) >= 1000 and tonumber(conflicts) >= 50, out)
  end)
end)
