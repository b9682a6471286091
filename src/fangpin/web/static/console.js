/* fangpin console: drag-and-drop upload, screening progress (server-sent events, else polling), charts
   (ECharts, shipped with the package), and small form helpers. No framework, no build step. */
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
  const palette = ["#c0392b", "#1d5fa8", "#d68910", "#1a7f37", "#7d3c98", "#616e7c"];

  function empty(chart, text) {
    chart.setOption({ title: { text: text || "暂无数据", left: "center", top: "middle",
      textStyle: { color: "#9aa5b1", fontSize: 14, fontWeight: "normal" } } });
  }

  const builders = {
    payouts(data, chart) {
      if (!data.townships.length) return empty(chart, "本次运行没有赔付");
      chart.setOption({
        color: palette,
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" },
          valueFormatter: (v) => yuan(v) + " 元" },
        legend: { top: 0 },
        grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: data.townships, axisLabel: { interval: 0, rotate: data.townships.length > 6 ? 30 : 0 } },
        yAxis: { type: "value", name: "元", axisLabel: { formatter: (v) => count(v) } },
        series: data.series.map((s) => ({ name: s.name, type: "bar", stack: "payout", data: s.data,
          emphasis: { focus: "series" } })),
      });
    },
    outcomes(data, chart) {
      if (!data.items.length) return empty(chart);
      const colours = { pay: "#1a7f37", refer_dibao: "#d68910", below_deductible: "#1d5fa8",
        already_paid: "#7d3c98", not_covered: "#9aa5b1" };
      chart.setOption({
        tooltip: { trigger: "item", formatter: (p) => p.name + ":" + count(p.value) + " 户(" + p.percent + "%)" },
        legend: { orient: "vertical", left: 0, top: "middle" },
        series: [{ type: "pie", radius: ["38%", "68%"], center: ["62%", "52%"],
          label: { formatter: (p) => p.name + "\n" + count(p.value) + " 户" },
          data: data.items.map((item) => ({ name: item.name, value: item.value,
            itemStyle: { color: colours[item.outcome] || "#616e7c" } })) }],
      });
    },
    income(data, chart) {
      const width = data.width;
      const last = data.bins[data.bins.length - 1];
      const points = data.bins.map((bin) => ({
        value: [bin.lower + width / 2, bin.count],
        bin: bin,
      }));
      chart.setOption({
        tooltip: { trigger: "item", formatter: (p) => {
          const bin = p.data.bin;
          const range = bin.upper === null ? "≥ " + yuan(bin.lower) : yuan(bin.lower) + " – " + yuan(bin.upper);
          return "人均收入 " + range + " 元<br>" + count(bin.count) + " 户";
        } },
        grid: { left: 8, right: 24, top: 64, bottom: 8, containLabel: true },
        legend: { top: 22, right: 0, data: ["低于上限(在救助范围内)", "不低于上限"] },
        title: { text: "收入上限 " + count(data.ceiling) + " 元(" + data.pack + ")· 低于上限 " + count(data.below)
          + " 户 · 不低于 " + count(data.at_or_above) + " 户 · 末格为 " + count(last.lower) + " 元及以上",
          left: 0, top: 0, textStyle: { fontSize: 12, fontWeight: "normal", color: "#616e7c" } },
        xAxis: { type: "value", min: 0, max: last.lower + width, name: "元/人/年",
          axisLabel: { formatter: (v) => count(v), showMaxLabel: false } },
        yAxis: { type: "value", name: "户数", minInterval: 1 },
        series: [
          { name: "低于上限(在救助范围内)", type: "bar", stack: "h", barWidth: "90%", itemStyle: { color: "#c0392b" },
            data: points.map((p) => (p.bin.covered ? p : { value: [p.value[0], 0], bin: p.bin })),
            markLine: { symbol: "none", lineStyle: { color: "#b42318", width: 2, type: "solid" },
              label: { position: "end", formatter: "上限 " + count(data.ceiling), color: "#b42318", fontWeight: "bold" },
              data: [{ xAxis: data.ceiling }] } },
          { name: "不低于上限", type: "bar", stack: "h", barWidth: "90%", itemStyle: { color: "#9aa5b1" },
            data: points.map((p) => (p.bin.covered ? { value: [p.value[0], 0], bin: p.bin } : p)) },
        ],
      });
    },
    fund(data, chart) {
      chart.setOption({
        color: ["#1d5fa8", "#c0392b", "#1a7f37"],
        tooltip: { trigger: "axis", valueFormatter: (v) => yuan(v) + " 元" },
        legend: { top: 0 },
        grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: data.months },
        yAxis: { type: "value", name: "元", axisLabel: { formatter: (v) => count(v) } },
        series: [
          { name: "财政投入", type: "bar", data: data.input },
          { name: "赔付", type: "bar", data: data.payouts },
          { name: "月末余额", type: "line", data: data.balance, smooth: false, symbolSize: 6 },
        ],
      });
    },
  };

  function initCharts() {
    const boxes = document.querySelectorAll("[data-chart]");
    if (!boxes.length || !window.echarts) return;
    const charts = [];
    boxes.forEach((box) => {
      const chart = window.echarts.init(box, null, { renderer: "canvas" });
      charts.push(chart);
      chart.showLoading({ text: "加载中…" });
      fetch(box.dataset.src, { headers: { Accept: "application/json" } })
        .then((r) => { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
        .then((data) => {
          chart.hideLoading();
          builders[box.dataset.chart](data, chart);
          box.dataset.ready = "1";
        })
        .catch((error) => { chart.hideLoading(); empty(chart, "图表加载失败:" + error.message); box.dataset.ready = "error"; });
    });
    window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
  }

  document.addEventListener("DOMContentLoaded", () => {
    initForms();
    initUpload();
    initJob();
    initCharts();
  });
})();
