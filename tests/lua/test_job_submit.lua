-- Unit tests of plugin/job_submit/gpuslots_job_submit.lua, run under lua5.1 (the Lua that
-- Debian's job_submit_lua.so links): table-driven job_desc fixtures shaped as Slurm 22.05
-- hands them over (spank_job_env indexed from 0, tres strings as "gres:name:count"). The
-- `slurm` table stands in for the functions Slurm registers; the real plugin runs the module
-- in the integration clusters.
--   lua5.1 tests/lua/test_job_submit.lua plugin/job_submit/gpuslots_job_submit.lua
local module_path = assert(arg[1], "usage: test_job_submit.lua PATH/gpuslots_job_submit.lua")

local user_messages = {}
slurm = {
    SUCCESS = 0,
    ERROR = -1,
    ESLURM_ACCESS_DENIED = 2002,
    log_user = function(fmt, ...) user_messages[#user_messages + 1] = string.format(fmt, ...) end,
    log_info = function() end,
    log_debug = function() end,
    log_error = function() end,
}
local gpuslots = dofile(module_path)

local failures, checks = 0, 0
local function check(ok, what)
    checks = checks + 1
    if not ok then
        failures = failures + 1
        io.stderr:write("FAIL: " .. what .. "\n")
    end
end

-- spank_job_env as Slurm builds it: a table indexed 0, 1, ...
local function spank(...)
    local t = {}
    for i, v in ipairs({ ... }) do t[i - 1] = v end
    return t
end
local G = "_SLURM_SPANK_OPTION_gpuslots_gpu_slots="
local C = "_SLURM_SPANK_OPTION_gpuslots_cpu_slots="

-- Each case: the job_desc, the submitting uid, optional settings, and either the expected
-- tres_per_node after mapping (ok) or a phrase of the user's message (refused).
local submit_cases = {
    { "--gpu-slots=2", { spank_job_env = spank(G .. "2") }, 1000,
      ok = "gres:gpuslots:2" },
    { "--gpu-slots=2 --cpu-slots=8", { spank_job_env = spank(C .. "8", G .. "2") }, 1000,
      ok = "gres:gpuslots:2,gres:cpuslots:8" },
    { "--cpu-slots=3 alone", { spank_job_env = spank(C .. "3") }, 1000, ok = "gres:cpuslots:3" },
    { "other GRES are kept", { spank_job_env = spank(G .. "1"), tres_per_node = "gres:nic:1" },
      1000, ok = "gres:nic:1,gres:gpuslots:1" },
    { "no options: untouched", { tres_per_node = "gres:nic:1" }, 1000, ok = "gres:nic:1" },
    { "no options, nothing at all", {}, 1000, ok = nil },
    { "other SPANK plugins' options are ignored",
      { spank_job_env = spank("_SLURM_SPANK_OPTION_pyxis_image=x", G .. "1") }, 1000,
      ok = "gres:gpuslots:1" },
    { "leading zeros read as the plugin reads them", { spank_job_env = spank(G .. "007") }, 1000,
      ok = "gres:gpuslots:7" },
    { "zero slots add nothing", { spank_job_env = spank(C .. "0") }, 1000, ok = nil },
    { "an array is one job_desc", { spank_job_env = spank(G .. "3"), array_inx = "1-10" }, 1000,
      ok = "gres:gpuslots:3" },
    { "a hetjob component maps its own value",
      { spank_job_env = spank(G .. "3"), het_job_offset = 1 }, 1000, ok = "gres:gpuslots:3" },
    -- Values the plugin would refuse, crafted past the submit side: refused here too.
    { "not a number", { spank_job_env = spank(G .. "abc") }, 1000,
      refused = "--gpu-slots: 'abc' is not a whole number" },
    { "a sign", { spank_job_env = spank(G .. "+2") }, 1000, refused = "is not a whole number" },
    { "negative", { spank_job_env = spank(G .. "-1") }, 1000, refused = "is not a whole number" },
    { "trailing junk", { spank_job_env = spank(G .. "2x") }, 1000,
      refused = "is not a whole number" },
    { "a space", { spank_job_env = spank(G .. " 2") }, 1000, refused = "is not a whole number" },
    { "empty", { spank_job_env = spank(G) }, 1000, refused = "is not a whole number" },
    { "beyond any server", { spank_job_env = spank(G .. "1025") }, 1000,
      refused = "1025 is larger than any server can have" },
    { "beyond int", { spank_job_env = spank(C .. "99999999999") }, 1000,
      refused = "larger than any server" },
    { "given twice", { spank_job_env = spank(G .. "1", G .. "2") }, 1000,
      refused = "--gpu-slots is given twice" },
    -- The slot GRES asked for directly: Slurm would count slots the prolog never reserves.
    { "--gres=gpuslots without the option", { tres_per_node = "gres:gpuslots:2" }, 1000,
      refused = "the GRES gpuslots counts gpuslots' slots" },
    { "--gres=gpuslots with the option", { spank_job_env = spank(G .. "1"),
      tres_per_node = "gres:gpuslots:2" }, 1000, refused = "ask for those instead of --gres" },
    { "cpuslots in tres_per_task", { tres_per_task = "gres:cpuslots:1" }, 1000,
      refused = "the GRES cpuslots" },
    { "root's own --gres=gpuslots, not a holder", { name = "x", tres_per_node = "gres:gpuslots:1" },
      0, refused = "the GRES gpuslots" },
    { "a user's job named like a holder", { name = "gpuslots-hold:t",
      tres_per_node = "gres:gpuslots:1" }, 1000, refused = "the GRES gpuslots" },
    { "root's holder for a manual booking", { name = "gpuslots-hold:t",
      tres_per_node = "gres:gpuslots:2,gres:cpuslots:4" }, 0,
      ok = "gres:gpuslots:2,gres:cpuslots:4" },
    -- Follow mode: Slurm's gres/gpu picks the devices.
    { "follow: --gpu-slots becomes gres:gpu", { spank_job_env = spank(G .. "2", C .. "1") }, 1000,
      settings = { gpu_gres = "gpu" }, ok = "gres:gpu:2,gres:cpuslots:1" },
    { "follow: a native GPU job is Slurm's", { tres_per_node = "gres:gpu:1" }, 1000,
      settings = { gpu_gres = "gpu" }, ok = "gres:gpu:1" },
    { "follow: both --gpu-slots and --gres=gpu", { spank_job_env = spank(G .. "1"),
      tres_per_node = "gres:gpu:1" }, 1000, settings = { gpu_gres = "gpu" },
      refused = "give either --gpu-slots or a GPU request of your own" },
    { "follow: --gpus (tres_per_job) and --gpu-slots", { spank_job_env = spank(G .. "1"),
      tres_per_job = "gres:gpu:2" }, 1000, settings = { gpu_gres = "gpu" },
      refused = "not both" },
    { "follow: typed GPUs count too", { spank_job_env = spank(G .. "1"),
      tres_per_node = "gres:gpu:a100:1" }, 1000, settings = { gpu_gres = "gpu" },
      refused = "not both" },
}

for _, c in ipairs(submit_cases) do
    user_messages = {}
    local job_desc = c[2]
    local rc = gpuslots.job_submit(job_desc, {}, c[3], c.settings)
    local what = c[1]
    if c.refused then
        check(rc == slurm.ERROR, what .. ": expected a refusal, got rc " .. tostring(rc))
        local msg = user_messages[1] or ""
        check(msg:sub(1, 10) == "gpuslots: ", what .. ": message prefix: " .. msg)
        check(msg:find(c.refused, 1, true) ~= nil,
              what .. ": expected '" .. c.refused .. "' in '" .. msg .. "'")
    else
        check(rc == slurm.SUCCESS, what .. ": refused: " .. (user_messages[1] or "?"))
        check(job_desc.tres_per_node == c.ok, what .. ": tres_per_node " ..
              tostring(job_desc.tres_per_node) .. ", expected " .. tostring(c.ok))
    end
end

-- job_modify: job_rec is the job as submitted (mapped), job_desc holds only the fields the
-- update sets.
local mapped = { job_id = 7, spank_job_env = spank(G .. "2"), tres_per_node = "gres:gpuslots:2" }
local modify_cases = {
    { "a user lowers the mapped GRES", { tres_per_node = "gres:gpuslots:1" }, mapped, 1000,
      refused = "the slots of job 7 were set by --gpu-slots" },
    { "a user removes it", { tres_per_node = "gres:nic:1" }, mapped, 1000, refused = "job 7" },
    { "a user adds cpuslots", { tres_per_node = "gres:gpuslots:2,gres:cpuslots:4" }, mapped, 1000,
      refused = "cannot be changed" },
    { "a user adds a GRES of their own, the slots unchanged",
      { tres_per_node = "gres:gpuslots:2,gres:nic:1" }, mapped, 1000, ok = true },
    { "a user changes the time limit", { time_limit = 5 }, mapped, 1000, ok = true },
    { "root may", { tres_per_node = "gres:gpuslots:1" }, mapped, 0, ok = true },
    { "a user sneaks gpuslots into a job without it", { tres_per_node = "gres:gpuslots:1" },
      { job_id = 8 }, 1000, refused = "job 8" },
    { "follow: a native job's GPUs are Slurm's", { tres_per_node = "gres:gpu:2" },
      { job_id = 9, tres_per_node = "gres:gpu:1" }, 1000, settings = { gpu_gres = "gpu" },
      ok = true },
    { "follow: a --gpu-slots job's GPUs are the slots", { tres_per_node = "gres:gpu:1" },
      { job_id = 10, spank_job_env = spank(G .. "2"), tres_per_node = "gres:gpu:2" }, 1000,
      settings = { gpu_gres = "gpu" }, refused = "job 10" },
}

for _, c in ipairs(modify_cases) do
    user_messages = {}
    local rc = gpuslots.job_modify(c[2], c[3], {}, c[4], c.settings)
    local what = "modify: " .. c[1]
    if c.refused then
        check(rc == slurm.ESLURM_ACCESS_DENIED, what .. ": expected access denied, got " ..
              tostring(rc))
        local msg = user_messages[1] or ""
        check(msg:find(c.refused, 1, true) ~= nil,
              what .. ": expected '" .. c.refused .. "' in '" .. msg .. "'")
    else
        check(rc == slurm.SUCCESS, what .. ": refused: " .. (user_messages[1] or "?"))
    end
end

-- A bug in the module must refuse the job (fail closed), not let it run uncounted.
user_messages = {}
local broken = setmetatable({}, { __index = function() error("boom") end })
check(gpuslots.job_submit(broken, {}, 1000) == slurm.ERROR, "an internal error refuses the job")
check((user_messages[1] or ""):find("internal error", 1, true) ~= nil,
      "an internal error says so: " .. tostring(user_messages[1]))

-- The parser's rule, on its own.
check(gpuslots.parse_count("gpu-slots", "1024") == 1024, "1024 GPUs is the bound")
check(gpuslots.parse_count("cpu-slots", "0") == 0, "0 parses")

io.write(string.format("%d checks, %d failed\n", checks, failures))
os.exit(failures == 0 and 0 or 1)
