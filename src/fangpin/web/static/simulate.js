/* fangpin console: a simulation job's page (政策模拟). While the job is queued or running, its stages are
   updated from /console/api/simulate/jobs/{id} once a second; when it ends the page is loaded again and
   shows the report or why it failed. Without scripts the page reloads itself (<noscript> refresh). */
(function () {
  "use strict";

  function follow() {
    const box = document.getElementById("simulate-job");
    if (!box) return;
    const id = box.dataset.job;
    const active = (state) => state === "queued" || state === "running";

    function show(job) {
      box.dataset.state = job.state;
      box.querySelectorAll(".stages li").forEach((li) => {
        const stage = (job.stages || {})[li.dataset.stage];
        if (!stage) return;
        const share = stage.total ? (100 * stage.done) / stage.total : 0;
        li.querySelector(".bar > span").style.width = share + "%";
        li.querySelector(".count").textContent = stage.done + " / " + stage.total;
        li.classList.toggle("done", stage.total > 0 && stage.done >= stage.total);
      });
      const note = box.querySelector(".note");
      if (note && job.state === "running") note.textContent = "正在模拟……本页自动更新。";
    }

    function poll() {
      fetch("/console/api/simulate/jobs/" + encodeURIComponent(id), { headers: { Accept: "application/json" } })
        .then((r) => r.json())
        .then((job) => {
          if (!active(job.state)) { window.location.reload(); return; }
          show(job);
          setTimeout(poll, 1000);
        })
        .catch(() => setTimeout(poll, 2000));
    }

    setTimeout(poll, 500);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", follow);
  else follow();
})();
