/* fangpin console: drag-and-drop upload, screening progress (server-sent events, else polling), charts
   (ECharts, shipped with the package), tables as cards on a phone, and small form helpers. No framework, no
   build step. */
(function () {
  "use strict";

  const csrf = () => document.body.dataset.csrf || "";
  const yuan = (v) => Number(v).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const count = (v) => Number(v).toLocaleString("zh-CN");
  const STEP_LABELS = { "event ledger": "事件台账", decisions: "判定", payments: "赔付记录", commit: "提交" };

  /* --- forms ------------------------------------------------------------------------------------ */
  function initForms() {
    document.querySelectorAll("[data-autosubmit]").forEach((el) => {
      el.addEventListener("change", () => {
        const page = el.form.querySelector("input[name=page]");
        if (page) page.value = 1;
        el.form.submit();
      });
    });
    document.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
  }

  /* --- upload ----------------------------------------------------------------------------------- */
  function initUpload() {
    const form = document.getElementById("upload-form");
    if (!form) return;
    const zone = document.getElementById("drop-zone");
    const input = document.getElementById("file-input");
    const list = document.getElementById("file-list");
    const summary = document.getElementById("file-summary");
    const errorBox = document.getElementById("upload-error");
    const bar = document.getElementById("upload-progress");
    const button = document.getElementById("start-button");
    let files = [];

    const size = (n) => (n > 1048576 ? (n / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(n / 1024)) + " KB");
    function showError(text) {
      errorBox.textContent = text;
      errorBox.hidden = !text;
    }
    function render() {
      list.innerHTML = "";
      files.forEach((file, index) => {
        const li = document.createElement("li");
        const name = document.createElement("span");
        name.textContent = file.name + " · " + size(file.size);
        const remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = "移除";
        remove.addEventListener("click", () => { files.splice(index, 1); render(); });
        li.append(name, remove);
        list.append(li);
      });
      summary.textContent = files.length ? "已选择 " + files.length + " 个文件" : "";
    }
    function add(chosen) {
      showError("");
      for (const file of chosen) {
        if (!/\.(csv|xlsx)$/i.test(file.name)) { showError("只接受 .csv 和 .xlsx 文件:" + file.name); continue; }
        files = files.filter((f) => f.name !== file.name);
        files.push(file);
      }
      render();
    }
    zone.addEventListener("click", () => input.click());
    zone.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") input.click(); });
    input.addEventListener("change", () => { add(input.files); input.value = ""; });
    ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (e) => {
      e.preventDefault(); zone.classList.add("over");
    }));
    ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, (e) => {
      e.preventDefault(); zone.classList.remove("over");
    }));
    zone.addEventListener("drop", (e) => add(e.dataTransfer.files));

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!files.length) { showError("请先选择或拖入数据文件"); return; }
      const data = new FormData();
      data.append("csrf", csrf());
      data.append("county", form.elements.county.value);
      data.append("year", form.elements.year.value);
      files.forEach((file) => data.append("files", file, file.name));
      const request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("Accept", "application/json");
      request.setRequestHeader("X-CSRF-Token", csrf());
      request.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) { bar.hidden = false; bar.value = (100 * e.loaded) / e.total; }
      });
      request.addEventListener("load", () => {
        let body = {};
        try { body = JSON.parse(request.responseText); } catch (e) { body = {}; }
        if (request.status === 202 && body.url) { window.location.assign(body.url); return; }
        if (request.status === 401) { window.location.assign("/console/login?next=/console/screening"); return; }
        button.disabled = false;
        showError(body.detail || "上传失败(" + request.status + ")");
      });
      request.addEventListener("error", () => { button.disabled = false; showError("网络错误,上传没有完成"); });
      button.disabled = true;
      showError("");
      request.send(data);
    });
  }

  /* --- screening progress ----------------------------------------------------------------------- */
  function initJob() {
    const box = document.getElementById("job");
    if (!box) return;
    const id = box.dataset.job;
    const result = document.getElementById("job-result");

    const active = (state) => state === "queued" || state === "running";

    function show(job) {
      box.dataset.state = job.state;
      box.querySelectorAll(".stages li").forEach((li) => {
        const stage = job.stages[li.dataset.stage];
        const fill = li.querySelector(".bar > span");
        const label = li.querySelector(".count");
        li.classList.toggle("current", job.current === li.dataset.stage && job.state === "running");
        if (stage) {
          const share = stage.total ? (100 * stage.done) / stage.total : 0;
          fill.style.width = share + "%";
          const steps = (job.steps || {})[li.dataset.stage];
          label.textContent = steps && stage.done < stage.total
            ? steps.map((s) => STEP_LABELS[s] || s).join("、") : stage.done + " / " + stage.total;
          li.classList.toggle("done", stage.done >= stage.total);
        }
      });
      if (job.state === "done") {
        const link = document.createElement("a");
        link.href = "/console/runs/" + encodeURIComponent(job.run_id);
        const note = document.createElement("p");
        if (job.already) {
          note.className = "note info";
          note.textContent = "这批数据已在相同规则包下筛查过:没有任何变化,也没有新增记录。";
          link.textContent = "查看那次运行的报告";
        } else {
          note.className = "note ok";
          note.textContent = "筛查完成。";
          link.id = "report-link";
          link.textContent = "查看报告 " + job.run_id;
        }
        note.append(link);
        result.replaceChildren(note);
      } else if (job.state === "failed") {
        const note = document.createElement("p");
        note.className = "note error";
        note.textContent = "筛查失败,没有写入任何记录:" + (job.error || "");
        result.replaceChildren(note);
      } else if (job.state === "queued") {
        const note = document.createElement("p");
        note.className = "note info";
        note.textContent = "排队中:本县(区)另一批数据正在筛查,完成后自动开始。本页自动更新。";
        result.replaceChildren(note);
      } else {
        const note = document.createElement("p");
        note.className = "note info";
        note.textContent = "正在筛查……本页自动更新。";
        result.replaceChildren(note);
      }
    }

    function poll() {
      fetch("/console/api/jobs/" + id, { headers: { Accept: "application/json" } })
        .then((r) => r.json())
        .then((job) => { show(job); if (active(job.state)) setTimeout(poll, 1000); })
        .catch(() => setTimeout(poll, 2000));
    }

    if (!active(box.dataset.state)) return;
    if (!window.EventSource) { poll(); return; }
    const source = new EventSource("/console/api/jobs/" + id + "/events");
    let finished = false;
    source.addEventListener("progress", (event) => {
      const job = JSON.parse(event.data);
      show(job);
      if (!active(job.state)) { finished = true; source.close(); }
    });
    source.addEventListener("error", () => {
      source.close();
      if (!finished) poll();
    });
  }

  /* --- charts ----------------------------------------------------------------------------------- */
  /* Each [data-chart] box shows "图表加载中…" (console.css) until ECharts (loaded async, beside this script) and
     the chart's figures (fetched at once, in parallel) have both arrived and the chart is drawn
     (data-ready="1"); if either fails, the box says so in words (data-ready="error"). A box narrower than
     NARROW px (a phone) gets a layout of its own: legends below, shorter axis labels, amounts in 万. Charts
     follow their box's size (ResizeObserver, else the window's resize). */
  const palette = ["#c0392b", "#1d5fa8", "#d68910", "#1a7f37", "#7d3c98", "#616e7c"];
  const NARROW = 560;
  const wan = (v) => (Math.abs(v) >= 10000 ? count(Math.round(v / 1000) / 10) + "万" : count(v));
  const amountAxis = (narrow) => ({ type: "value", name: narrow ? "" : "元",
    axisLabel: { formatter: (v) => (narrow ? wan(v) : count(v)) } });
  const month = (v) => (/^\d{4}-\d{2}$/.test(v) ? Number(v.slice(5)) + "月" : v);

  function emptyOption(text) {
    return { title: { text: text || "暂无数据", left: "center", top: "middle",
      textStyle: { color: "#9aa5b1", fontSize: 14, fontWeight: "normal" } } };
  }

  const builders = {
    payouts(data, narrow) {
      if (!data.townships.length) return emptyOption("本次运行没有赔付");
      const many = data.townships.length > (narrow ? 3 : 6);
      return {
        color: palette,
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true,
          valueFormatter: (v) => yuan(v) + " 元" },
        legend: { top: 0, type: narrow ? "scroll" : "plain" },
        grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: data.townships,
          axisLabel: { interval: 0, rotate: many ? (narrow ? 45 : 30) : 0, fontSize: narrow ? 10 : 12 } },
        yAxis: amountAxis(narrow),
        series: data.series.map((s) => ({ name: s.name, type: "bar", stack: "payout", data: s.data,
          emphasis: { focus: "series" } })),
      };
    },
    outcomes(data, narrow) {
      if (!data.items.length) return emptyOption();
      const colours = { pay: "#1a7f37", refer_dibao: "#d68910", below_deductible: "#1d5fa8",
        already_paid: "#7d3c98", not_covered: "#9aa5b1" };
      const values = {};
      data.items.forEach((item) => { values[item.name] = item.value; });
      return {
        tooltip: { trigger: "item", confine: true,
          formatter: (p) => p.name + ":" + count(p.value) + " 户(" + p.percent + "%)" },
        legend: narrow
          ? { bottom: 0, left: "center", formatter: (name) => name + " " + count(values[name]) + " 户" }
          : { orient: "vertical", left: 0, top: "middle" },
        series: [{ type: "pie", radius: narrow ? ["28%", "54%"] : ["38%", "68%"],
          center: narrow ? ["50%", "40%"] : ["62%", "52%"],
          label: narrow ? { show: false } : { formatter: (p) => p.name + "\n" + count(p.value) + " 户" },
          data: data.items.map((item) => ({ name: item.name, value: item.value,
            itemStyle: { color: colours[item.outcome] || "#616e7c" } })) }],
      };
    },
    income(data, narrow) {
      const width = data.width;
      const last = data.bins[data.bins.length - 1];
      const points = data.bins.map((bin) => ({ value: [bin.lower + width / 2, bin.count], bin: bin }));
      const parts = ["收入上限 " + count(data.ceiling) + " 元(" + data.pack + ")",
        "低于上限 " + count(data.below) + " 户 · 不低于 " + count(data.at_or_above) + " 户",
        "末格为 " + count(last.lower) + " 元及以上"];
      const covered = "低于上限(在救助范围内)";
      return {
        tooltip: { trigger: "item", confine: true, formatter: (p) => {
          const bin = p.data.bin;
          const range = bin.upper === null ? "≥ " + yuan(bin.lower) : yuan(bin.lower) + " – " + yuan(bin.upper);
          return "人均收入 " + range + " 元<br>" + count(bin.count) + " 户";
        } },
        grid: { left: 8, right: 24, top: narrow ? 76 : 64, bottom: narrow ? 30 : 8, containLabel: true },
        legend: narrow ? { bottom: 0, left: "center", data: [covered, "不低于上限"] }
          : { top: 22, right: 0, data: [covered, "不低于上限"] },
        title: { text: narrow ? parts.join("\n") : parts.join(" · "), left: 0, top: 0,
          textStyle: { fontSize: 12, lineHeight: 16, fontWeight: "normal", color: "#616e7c" } },
        xAxis: { type: "value", min: 0, max: last.lower + width, name: narrow ? "" : "元/人/年",
          axisLabel: { formatter: (v) => count(v), showMaxLabel: false, fontSize: narrow ? 10 : 12 } },
        yAxis: { type: "value", name: "户数", minInterval: 1 },
        series: [
          { name: covered, type: "bar", stack: "h", barWidth: "90%", itemStyle: { color: "#c0392b" },
            data: points.map((p) => (p.bin.covered ? p : { value: [p.value[0], 0], bin: p.bin })),
            markLine: { symbol: "none", lineStyle: { color: "#b42318", width: 2, type: "solid" },
              label: { position: "end", formatter: "上限 " + count(data.ceiling), color: "#b42318", fontWeight: "bold" },
              data: [{ xAxis: data.ceiling }] } },
          { name: "不低于上限", type: "bar", stack: "h", barWidth: "90%", itemStyle: { color: "#9aa5b1" },
            data: points.map((p) => (p.bin.covered ? { value: [p.value[0], 0], bin: p.bin } : p)) },
        ],
      };
    },
    fund(data, narrow) {
      return {
        color: ["#1d5fa8", "#c0392b", "#1a7f37"],
        tooltip: { trigger: "axis", confine: true, valueFormatter: (v) => yuan(v) + " 元" },
        legend: { top: 0 },
        grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: data.months, axisLabel: { formatter: month, fontSize: narrow ? 10 : 12 } },
        yAxis: amountAxis(narrow),
        series: [
          { name: "财政投入", type: "bar", data: data.input },
          { name: "赔付", type: "bar", data: data.payouts },
          { name: "月末余额", type: "line", data: data.balance, smooth: false, symbolSize: 6 },
        ],
      };
    },
    simTownships(data, narrow) {
      const t = data.townships;
      if (!t.names.length) return emptyOption();
      const many = t.names.length > (narrow ? 3 : 6);
      return {
        color: ["#9aa5b1", "#c0392b", "#1d5fa8"],
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true,
          valueFormatter: (v) => yuan(v) + " 元" },
        legend: { top: 0 },
        grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: t.names,
          axisLabel: { interval: 0, rotate: many ? (narrow ? 45 : 30) : 0, fontSize: narrow ? 10 : 12 } },
        yAxis: amountAxis(narrow),
        series: [
          { name: "原规则包", type: "bar", data: t.before },
          { name: "模拟", type: "bar", data: t.after },
          { name: "差额", type: "line", data: t.difference, symbolSize: 6 },
        ],
      };
    },
    simFlows(data, narrow) {
      const f = data.flows;
      if (!f.links.length) return emptyOption();
      return {
        tooltip: { trigger: "item", confine: true, formatter: (p) => (p.dataType === "edge"
          ? p.data.source + " → " + p.data.target + ":" + count(p.data.value) + " 户" : p.name) },
        series: [{ type: "sankey", left: 8, right: narrow ? 96 : 140, top: 8, bottom: 8, nodeGap: 10,
          draggable: false, emphasis: { focus: "adjacency" }, lineStyle: { color: "gradient", opacity: 0.45 },
          label: { fontSize: narrow ? 10 : 11, width: narrow ? 88 : 132, overflow: "break" },
          data: f.nodes, links: f.links }],
      };
    },
    simBands(data, narrow) {
      const b = data.bands;
      return {
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, confine: true,
          formatter: (items) => items.map((p) => p.name + ":" + count(p.value) + " 户,差额 "
            + yuan(b.difference[p.dataIndex]) + " 元").join("<br>") },
        grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: b.labels,
          axisLabel: { interval: 0, rotate: narrow ? 50 : 30, fontSize: narrow ? 10 : 12 } },
        yAxis: { type: "value", name: "户数", minInterval: 1 },
        series: [{ type: "bar", data: b.households.map((value, i) => ({ value: value, itemStyle: {
          color: b.keys[i].startsWith("less") ? "#c0392b" : b.keys[i] === "same" ? "#9aa5b1" : "#1a7f37" } })) }],
      };
    },
  };

  /* ECharts, loaded async by the page (<script data-echarts async>): resolves once it is there, fails if
     the script could not be loaded (the window's load event comes after every script, loaded or not) */
  function echartsReady() {
    return new Promise((resolve, reject) => {
      if (window.echarts) { resolve(window.echarts); return; }
      const fail = () => reject(new Error("组件"));
      const check = () => (window.echarts ? resolve(window.echarts) : fail());
      const script = document.querySelector("script[data-echarts]");
      if (script) {
        script.addEventListener("load", check);
        script.addEventListener("error", fail);
      }
      window.addEventListener("load", check);
    });
  }

  function figures(box) {
    return fetch(box.dataset.src, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .catch(() => { throw new Error("网络"); })
      .then((r) => {
        if (r.status === 401) throw new Error("登录");
        if (!r.ok) throw new Error("状态 " + r.status);
        return r.json();
      });
  }

  function failed(box, why) {
    const reasons = {
      组件: "图表组件没有加载成功(网络中断或被拦截)。",
      网络: "图表数据没有加载成功(网络中断)。",
      登录: "登录已失效,图表数据没有加载。请重新登录。",
    };
    const server = /^状态 \d+$/.test(why || "") ? "图表数据没有加载成功(服务器答复" + why + ")。" : "";
    const note = document.createElement("p");
    note.className = "chart-failed";
    note.textContent = (reasons[why] || server || "图表无法绘制(页面脚本出错)。")
      + "页面上的表格和数字不受影响;请刷新页面重试。";
    box.replaceChildren(note);
    box.dataset.ready = "error";
  }

  function initCharts() {
    const boxes = Array.from(document.querySelectorAll("[data-chart]"));
    if (!boxes.length) return;
    const library = echartsReady();
    library.catch(() => {});  // each box reports it below
    boxes.forEach((box) => {
      Promise.all([library, figures(box)]).then(([echarts, data]) => {
        const chart = echarts.init(box, null, { renderer: "canvas" });
        let narrow = box.clientWidth < NARROW;
        const draw = () => chart.setOption(builders[box.dataset.chart](data, narrow), true);
        draw();
        box.dataset.ready = "1";
        const resized = () => {
          chart.resize();
          const now = box.clientWidth < NARROW;
          if (now !== narrow) { narrow = now; draw(); }
        };
        if (window.ResizeObserver) new ResizeObserver(resized).observe(box);
        else window.addEventListener("resize", resized);
      }).catch((error) => {
        const why = error && error.message;
        if (!/^(组件|网络|登录|状态 \d+)$/.test(why || "")) console.error(error);  // a fault of this script
        failed(box, why);
      });
    });
  }

  /* --- phone: tables as cards, the folding menu --------------------------------------------------- */
  /* A table with a header row and three columns or more becomes, on a narrow screen, a card per row
     (console.css "phone"): each cell is labelled here with its column's header (data-label), colspans
     counted; a cell spanning columns (a total's title, "nothing found") is shown unlabelled. */
  function initCards() {
    document.querySelectorAll("main table").forEach((table) => {
      if (table.classList.contains("kv") || table.classList.contains("no-cards")) return;
      const rows = Array.from(table.rows);
      const head = rows[0];
      if (rows.length < 2 || !head.cells.length || Array.from(head.cells).some((c) => c.tagName !== "TH")) return;
      const labels = [];
      Array.from(head.cells).forEach((cell) => {
        for (let i = 0; i < cell.colSpan; i += 1) labels.push(cell.colSpan > 1 ? "" : cell.textContent.trim());
      });
      if (labels.length < 3 || labels.every((label) => !label)) return;  // two columns fit; a caption is no header
      head.classList.add("head");
      rows.slice(1).forEach((row) => {
        let column = 0;
        Array.from(row.cells).forEach((cell) => {
          const label = cell.colSpan === 1 ? labels[column] : "";
          if (label && !cell.hasAttribute("data-label")) cell.dataset.label = label;
          column += cell.colSpan;
        });
      });
      table.classList.add("cards");
    });
  }

  function initMenu() {
    const toggle = document.getElementById("menu-toggle");
    if (!toggle) return;
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && toggle.checked) { toggle.checked = false; toggle.focus(); }
    });
  }

  /* the draft form: only the chosen base pack's parameters are shown (the others are not sent anyway) */
  function initDraftForm() {
    const base = document.getElementById("draft-base");
    if (!base) return;
    const show = () => document.querySelectorAll("#draft-form [data-base]").forEach((table) => {
      table.hidden = table.dataset.base !== base.value;
    });
    base.addEventListener("change", show);
    show();
  }

  document.addEventListener("DOMContentLoaded", () => {
    initMenu();
    initCards();
    initDraftForm();
    initForms();
    initUpload();
    initJob();
    initCharts();
  });
})();
