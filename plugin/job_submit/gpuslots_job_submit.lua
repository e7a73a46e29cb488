-- gpuslots_job_submit: the controller side of gpuslots, for Slurm's job_submit/lua plugin.
--
-- Slurm's scheduler must count the slots, or it packs more GPU jobs onto a node than the node
-- has GPUs and the prolog can only refuse the excess. Each node offers its slots as count-only
-- GRES (slurm.conf Gres=gpuslots:<GPUs>,cpuslots:<CPUs>, gres.conf Name=... Count=... without
-- File=; `gpuslots slurm-config` prints the lines). This module turns a job's
-- --gpu-slots=N / --cpu-slots=N into the GRES request gres:gpuslots:N / gres:cpuslots:N, so that
-- a job that does not fit waits in the queue (Reason=Resources) instead of failing in the
-- prolog.
--
-- A site's job_submit.lua (read from slurm.conf's directory) calls it, e.g.:
--
--   local gpuslots = require("gpuslots_job_submit")   -- /usr/share/lua/5.1 is on Lua's path
--   function slurm_job_submit(job_desc, part_list, submit_uid)
--       local rc = gpuslots.job_submit(job_desc, part_list, submit_uid)
--       if rc ~= slurm.SUCCESS then return rc end
--       -- ... the site's own rules ...
--       return slurm.SUCCESS
--   end
--   function slurm_job_modify(job_desc, job_rec, part_list, modify_uid)
--       return gpuslots.job_modify(job_desc, job_rec, part_list, modify_uid)
--   end
--
-- The value it maps is the one the prolog reserves: both read the job's SPANK environment
-- (_SLURM_SPANK_OPTION_gpuslots_gpu_slots=N; it reaches the prolog as
-- SPANK__SLURM_SPANK_OPTION_...), and both check it with the same rules (a whole decimal
-- number, no sign; gpuslots' parse_count). The allowed range comes from gpuslots.yaml, which
-- the controller does not read: the submit command checked it, the node checks it again, and
-- Slurm itself refuses a count larger than any node's GRES.
--
-- Rules:
--   * --gpu-slots=N adds gres:<gpu_gres>:N and --cpu-slots=N adds gres:<cpu_gres>:N to
--     tres_per_node; every other GRES of the job is kept. Each hetjob component and each array
--     is one job_desc here, mapped from its own SPANK environment.
--   * A job may not ask for the slot GRES itself (--gres=gpuslots:N): Slurm would count slots
--     that the prolog never reserves. Only root may, for the holder jobs of `gpuslots
--     allocate` (job name "gpuslots-hold:<task>"), which stand for a manual booking.
--   * With settings.gpu_gres = "gpu" (Slurm's own gres/gpu manages the devices: gpuslots
--     follows Slurm's choice), --gpu-slots=N becomes gres:gpu:N, and a job that gives both
--     --gpu-slots and a GPU request of its own is refused (which one would it mean?).
--   * job_modify: a user may not change the slot GRES of a job (scontrol update job ...
--     TresPerNode=...), or Slurm would count other slots than the prolog reserves; root may.
-- A refusal returns slurm.ERROR with a message the user sees ("gpuslots: ..."); a refused
-- update returns ESLURM_ACCESS_DENIED, which is all scontrol shows.

local M = {}

-- Site settings; change them in job_submit.lua after require(), or pass a table with any of
-- these keys as the last argument of job_submit / job_modify (e.g. per partition).
M.settings = {
    -- The GRES --gpu-slots maps to: "gpuslots" (count-only GRES) or "gpu" (follow gres/gpu).
    gpu_gres = "gpuslots",
    -- The GRES --cpu-slots maps to (count-only; see the README on CPU slots).
    cpu_gres = "cpuslots",
}

-- What the admin tool names its holder jobs (tools/allocate.cpp): root's job of that name may
-- carry the slot GRES itself.
M.holder_prefix = "gpuslots-hold:"

-- The bounds the plugin's config parser puts on one server (kMaxGpusPerServer,
-- kMaxCpusPerServer in lib/gpuslots/config.hpp): no request can be larger.
local MAX = { ["gpu-slots"] = 1024, ["cpu-slots"] = 1048576 }
local OPTION_PREFIX = "_SLURM_SPANK_OPTION_gpuslots_"
local OPTIONS = { gpu_slots = "gpu-slots", cpu_slots = "cpu-slots" }
local TRES_FIELDS = { "tres_per_node", "tres_per_job", "tres_per_task", "tres_per_socket" }

local function settings_for(overrides)
    local s = {}
    for k, v in pairs(M.settings) do s[k] = v end
    if type(overrides) == "table" then
        for k, v in pairs(overrides) do s[k] = v end
    end
    return s
end

-- The same rule as gpuslots' parse_count: decimal digits only (no sign, no space), within
-- 0 .. the bound. Returns the number, or nil and why.
function M.parse_count(option, text)
    if type(text) ~= "string" or not text:match("^%d+$") then
        return nil, string.format("--%s: '%s' is not a whole number", option, tostring(text))
    end
    local digits = text:gsub("^0+(%d)", "%1")
    local n = tonumber(digits)
    if #digits > 9 or n > MAX[option] then
        return nil, string.format("--%s: %s is larger than any server can have", option, text)
    end
    return n
end

-- The slot options of a job: { ["gpu-slots"] = N, ["cpu-slots"] = N } (absent = not given),
-- or nil and why. spank_job_env is indexed from 0 by Slurm: iterate with pairs().
function M.requested(job_desc)
    local found = {}
    local env = job_desc.spank_job_env
    if type(env) ~= "table" then return found end
    for _, entry in pairs(env) do
        if type(entry) == "string" and entry:sub(1, #OPTION_PREFIX) == OPTION_PREFIX then
            local name, value = entry:sub(#OPTION_PREFIX + 1):match("^([%w_]+)=(.*)$")
            local option = name and OPTIONS[name]
            if option then
                if found[option] ~= nil then
                    return nil, string.format("--%s is given twice in the job's SPANK "
                                              .. "environment", option)
                end
                local n, why = M.parse_count(option, value)
                if not n then return nil, why end
                found[option] = n
            end
        end
    end
    return found
end

-- A TRES string ("gres:gpu:2,gres:gpuslots:1,license/x:1") as a list of
-- { text = <token>, name = <gres name or nil>, count = <number or nil> }.
function M.parse_tres(tres)
    local out = {}
    if type(tres) ~= "string" or tres == "" then return out end
    for token in tres:gmatch("[^,]+") do
        local item = { text = token }
        local rest = token:match("^gres[:/](.+)$")
        if rest then
            item.name = rest:match("^([^:]+)")
            item.count = tonumber(rest:match(":(%d+)$") or "")
            if item.count == nil and not rest:find(":") then item.count = 1 end
        end
        out[#out + 1] = item
    end
    return out
end

-- The counts of the named GRES across a job's TRES fields, e.g. { gpuslots = 2 }.
local function gres_counts(record, names)
    local counts = {}
    for _, field in ipairs(TRES_FIELDS) do
        for _, item in ipairs(M.parse_tres(record[field])) do
            if item.name and names[item.name] then
                counts[item.name] = (counts[item.name] or 0) + (item.count or 0)
            end
        end
    end
    return counts
end

local function same_counts(a, b)
    for k, v in pairs(a) do
        if b[k] ~= v then return false end
    end
    for k, v in pairs(b) do
        if a[k] ~= v then return false end
    end
    return true
end

local function refuse(message, rc)
    slurm.log_user("%s", "gpuslots: " .. message)
    slurm.log_info("gpuslots: job_submit: refused: %s", message)
    return rc or slurm.ERROR
end

local function map(job_desc, submit_uid, s)
    local asked, why = M.requested(job_desc)
    if not asked then return refuse(why .. "; resubmit with a valid value") end
    local gpus, cpus = asked["gpu-slots"], asked["cpu-slots"]

    local slot_names = { [s.gpu_gres] = true, [s.cpu_gres] = true }
    local own = gres_counts(job_desc, slot_names)
    local is_holder = submit_uid == 0 and type(job_desc.name) == "string"
        and job_desc.name:sub(1, #M.holder_prefix) == M.holder_prefix
    if s.gpu_gres == "gpu" then
        -- Follow mode: a job's own GPU request is Slurm's business, unless it also asks
        -- for GPU slots.
        if own.gpu and gpus == nil then own.gpu = nil end
        if own.gpu and gpus ~= nil then
            return refuse("give either --gpu-slots or a GPU request of your own (--gres=gpu, "
                          .. "--gpus...), not both: --gpu-slots asks Slurm for the GPUs")
        end
    end
    if next(own) ~= nil and not is_holder then
        return refuse(string.format("the GRES %s counts gpuslots' slots and is set by "
                                    .. "--gpu-slots / --cpu-slots; ask for those instead of "
                                    .. "--gres", next(own)))
    end

    local add = {}
    if gpus and gpus > 0 then add[#add + 1] = string.format("gres:%s:%d", s.gpu_gres, gpus) end
    if cpus and cpus > 0 then add[#add + 1] = string.format("gres:%s:%d", s.cpu_gres, cpus) end
    if #add == 0 then return slurm.SUCCESS end
    local tres = job_desc.tres_per_node
    if type(tres) == "string" and tres ~= "" then table.insert(add, 1, tres) end
    job_desc.tres_per_node = table.concat(add, ",")
    slurm.log_debug("gpuslots: job_submit: %s: tres_per_node=%s", tostring(job_desc.name),
                    job_desc.tres_per_node)
    return slurm.SUCCESS
end

-- Call from slurm_job_submit. Returns slurm.SUCCESS or slurm.ERROR (with a user message).
function M.job_submit(job_desc, part_list, submit_uid, overrides)
    local ok, rc = pcall(map, job_desc, submit_uid, settings_for(overrides))
    if ok then return rc end
    slurm.log_error("gpuslots: job_submit: internal error: %s", tostring(rc))
    return refuse("internal error in the job_submit mapping; ask the admin to look at "
                  .. "slurmctld's log")
end

local function check_modify(job_desc, job_rec, modify_uid, s)
    if modify_uid == 0 then return slurm.SUCCESS end
    local changes = false
    for _, field in ipairs(TRES_FIELDS) do
        if job_desc[field] ~= nil then changes = true end
    end
    if not changes then return slurm.SUCCESS end
    local names = { [s.gpu_gres] = true, [s.cpu_gres] = true }
    if s.gpu_gres == "gpu" then
        -- In follow mode the GPU count is the mapped one only for a job with --gpu-slots.
        local asked = M.requested(job_rec) or {}
        if asked["gpu-slots"] == nil then names.gpu = nil end
    end
    -- The job's TRES after the update: the updated fields, the others as they are.
    local after = {}
    for _, field in ipairs(TRES_FIELDS) do
        if job_desc[field] ~= nil then after[field] = job_desc[field] else after[field] = job_rec[field] end
    end
    if same_counts(gres_counts(after, names), gres_counts(job_rec, names)) then
        return slurm.SUCCESS
    end
    -- scontrol shows no user message for an update, only the code: "Access/permission denied".
    return refuse(string.format("the slots of job %s were set by --gpu-slots / --cpu-slots "
                                .. "when it was submitted and cannot be changed; cancel it and "
                                .. "submit it again with the slots it needs",
                                tostring(job_rec.job_id)),
                  slurm.ESLURM_ACCESS_DENIED or slurm.ERROR)
end

-- Call from slurm_job_modify. Returns slurm.SUCCESS or slurm.ERROR (with a user message).
function M.job_modify(job_desc, job_rec, part_list, modify_uid, overrides)
    local ok, rc = pcall(check_modify, job_desc, job_rec, modify_uid, settings_for(overrides))
    if ok then return rc end
    slurm.log_error("gpuslots: job_modify: internal error: %s", tostring(rc))
    return refuse("internal error in the job_submit mapping; ask the admin to look at "
                  .. "slurmctld's log")
end

return M
