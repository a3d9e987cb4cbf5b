"""Seeded simulator of a realistic B2B SaaS customer portfolio.

``generate(DemoParams(...))`` returns one DataFrame per canonical table
(SPEC.md "Canonical data"), deterministic for a seed, size and as-of date.

The model is causal, so that scores and models have something real to find:

* Every account has a latent daily **engagement** ``e(t)`` in [0, 1]: a baseline,
  a slow random drift, an onboarding ramp for new customers, and **risk
  episodes** (usage, support, relationship or budget driven) that pull it down
  over weeks; about half of them recover.
* Everything observable is driven by ``e(t)`` and the episode's channel, with
  noise: active users and events, session length, errors, tickets (volume,
  priority, escalations, CSAT), NPS answers, meeting attendance, champions
  leaving, late invoices.
* **Churn** is decided at renewal dates (monthly for month-to-month contracts)
  with a probability that rises steeply as the 30-day mean of ``e`` falls, plus
  a small "surprise" churn with no warning. Some episodes recover before the
  renewal: warnings without churn.
* **Expansion** follows demand: teams grow, seat utilization passes 80 %, and an
  expansion (add-on seats, a won expansion opportunity) follows weeks later.
* Promoters on healthy accounts are asked to advocate; referrals create
  new-business opportunities.

Two archetype accounts of the seeds are planted: "TechCorp Financial Services"
($875K ARR, healthy, expanding, advocate) and "DataFlow Analytics" ($180K ARR,
logins down ~67 % over 60 days, 2 of 8 users active, champion moved, invoice 23
days late, renewal 127 days after the as-of date).

All dates are strictly before the as-of date except the future renewal dates of
active subscriptions and the close dates of open opportunities.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import numpy as np
import pandas as pd

from greendoor.demo import names as N
from greendoor.labels import human
from greendoor.playbooks import PLAYBOOKS
from greendoor.state import add_months
from greendoor.store import schema as _schema


def _table(name: str):
    return _schema.metadata.tables[name].c

TECHCORP = "ACC-00001"
DATAFLOW = "ACC-00002"
SEGMENTS = np.array(["enterprise", "mid_market", "smb"])
#: The demo's randomized experiment (issue 25): started this many days before the as-of
#: date, retention measured over ``outcome_days``.
EXPERIMENT = {"name": "14-day retention playbook for accounts in a usage dip",
              "playbook": "retention_14d", "days_before": 240, "outcome_days": 180,
              "seed": 20260401}
EPISODE_CHANNELS = ("usage", "support", "relationship", "budget")
PLANS = {
    "smb": (("Starter", 0.6), ("Growth", 0.4)),
    "mid_market": (("Growth", 0.55), ("Business", 0.45)),
    "enterprise": (("Business", 0.3), ("Enterprise", 0.7)),
}
PRICE_PER_SEAT = {"Starter": 480.0, "Growth": 720.0, "Business": 1080.0, "Enterprise": 1800.0}
#: Share of ARR that is a platform fee rather than seats (bigger plans have more).
PLATFORM_SHARE = {"Starter": 0.0, "Growth": 0.1, "Business": 0.2, "Enterprise": 0.3}
CHUNK_ACCOUNTS = 250  # fixed, so output does not depend on memory settings
MAX_SIM_USERS = 1000  # users simulated per account (a guard; seats rarely exceed it)


@dataclasses.dataclass(frozen=True)
class DemoParams:
    """Size and seed of a demo portfolio. ``as_of`` defaults to today."""

    n_accounts: int = 1500
    months: int = 24
    seed: int = 42
    as_of: dt.date | None = None
    #: Shares of enterprise, mid-market and SMB accounts. ``None``: 13 %, 32 %, 55 %.
    #: A 100,000-account book is mostly SMB (bench tier L uses 1 %, 9 %, 90 %).
    segment_mix: tuple[float, float, float] | None = None

    def resolved(self) -> DemoParams:
        """These parameters checked and completed (the as-of date defaults to today).
        Raises ``ValueError`` for fewer than 2 accounts, 3 months or an invalid segment mix."""
        if self.n_accounts < 2:
            raise ValueError("n_accounts must be at least 2 (the two archetype accounts)")
        if self.months < 3:
            raise ValueError("months must be at least 3")
        if self.segment_mix is not None:
            mix = tuple(float(x) for x in self.segment_mix)
            if len(mix) != 3 or min(mix) < 0 or abs(sum(mix) - 1) > 1e-9:
                raise ValueError("segment_mix must be 3 non-negative shares summing to 1")
        return dataclasses.replace(self, as_of=self.as_of or dt.date.today())


# --------------------------------------------------------------------------- #
# date helpers (numpy datetime64[D])
# --------------------------------------------------------------------------- #
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class _Simulation:
    def __init__(self, params: DemoParams):
        self.p = params.resolved()
        self.rng = np.random.default_rng(np.random.SeedSequence([self.p.seed, 7]))
        self.as_of = np.datetime64(self.p.as_of, "D")
        self.start = add_months(np.array([self.as_of]), -self.p.months)[0]
        self.D = int((self.as_of - self.start).astype(int))
        self.days = self.start + np.arange(self.D)
        self.A = self.p.n_accounts

    # ------------------------------------------------------------------ #
    def run(self, usage_sink=None) -> dict[str, pd.DataFrame]:
        self._accounts()
        self._latent()
        self._start_trial()
        self._contracts()
        self._contacts()
        facts = self._daily_facts(usage_sink)
        plans = self._success_plans()
        out = {
            "accounts": self.accounts_df,
            "subscriptions": self._subscriptions_df(),
            "usage": facts["usage"],
            "tickets": facts["tickets"],
            "survey_responses": self._surveys(),
            "contacts": self.contacts_df,
            "interactions": self._interactions(),
            "opportunities": self._opportunities_df(),
            "churn_events": self._churn_df(),
            "advocacy_activities": self.advocacy_df,
            "invoices": self._invoices(),
            "mentions": self._mentions(),
            **plans,
            "actions": self._actions_df(),
            "forecast_calls": self._forecast_calls_df(),
        }
        out["experiments"], out["experiment_assignments"] = self._experiment_dfs()
        deals = out["opportunities"].pop("plan_id")
        won = deals.notna()
        plans["success_plans"]["opportunity_id"] = plans["success_plans"]["plan_id"].map(
            dict(zip(deals[won], out["opportunities"]["opportunity_id"][won], strict=True)))
        self._scale_archetype_money(out)
        return out

    # ------------------------------------------------------------------ #
    # accounts
    # ------------------------------------------------------------------ #
    def _accounts(self) -> None:
        rng, A = self.rng, self.A
        seg = rng.choice(3, size=A, p=list(self.p.segment_mix or (0.13, 0.32, 0.55)))
        seg[0], seg[1] = 0, 1  # TechCorp enterprise, DataFlow mid-market
        self.seg = seg
        ids = np.array([f"ACC-{i + 1:05d}" for i in range(A)])
        self.ids = ids

        combos = len(N.NAME_HEADS) * len(N.NAME_BODIES) * len(N.NAME_TAILS)
        pick = rng.choice(combos, size=min(A, combos), replace=False)
        if A > combos:
            pick = np.concatenate([pick, rng.integers(0, combos, A - combos)])
        h = pick % len(N.NAME_HEADS)
        b = (pick // len(N.NAME_HEADS)) % len(N.NAME_BODIES)
        t = pick // (len(N.NAME_HEADS) * len(N.NAME_BODIES))
        names = [
            f"{N.NAME_HEADS[h[i]]} {N.NAME_BODIES[b[i]]}{N.NAME_TAILS[t[i]]}"
            + (f" {i // combos + 1}" if i >= combos else "")
            for i in range(A)
        ]
        names[0], names[1] = "TechCorp Financial Services", "DataFlow Analytics"
        self.names = np.array(names)

        ind_names = [x[0] for x in N.INDUSTRIES]
        ind_w = np.array([x[1] for x in N.INDUSTRIES])
        industry = np.array(ind_names)[rng.choice(len(ind_names), A, p=ind_w / ind_w.sum())]
        industry[0], industry[1] = "Financial Services", "Technology"
        cw = np.array([c[2] for c in N.COUNTRIES])
        ci = rng.choice(len(N.COUNTRIES), A, p=cw / cw.sum())
        ci[0] = ci[1] = 0
        self.country = np.array([N.COUNTRIES[i][0] for i in ci])
        self.region = np.array([N.COUNTRIES[i][1] for i in ci])

        emp_med = np.array([8000.0, 700.0, 60.0])[seg]
        employees = np.round(emp_med * np.exp(rng.normal(0, 0.6, A))).astype(int)
        employees = np.clip(employees, 5, 200_000)

        # Plans, price per seat, first-contract ARR and seats
        plan = np.empty(A, dtype=object)
        for s, sname in enumerate(SEGMENTS):
            m = seg == s
            opts, w = zip(*PLANS[sname], strict=True)
            plan[m] = np.array(opts)[rng.choice(len(opts), m.sum(), p=w)]
        plan[0], plan[1] = "Enterprise", "Business"
        self.plan = plan
        self.pps = np.array([PRICE_PER_SEAT[x] for x in plan]) * np.exp(rng.normal(0, 0.15, A))
        arr_med = np.array([120_000.0, 24_000.0, 5_500.0])[seg]
        arr_sig = np.array([0.7, 0.4, 0.45])[seg]
        lo = np.array([50_001.0, 10_000.0, 1_200.0])[seg]
        hi = np.array([1_500_000.0, 50_000.0, 9_900.0])[seg]
        arr0 = np.clip(arr_med * np.exp(rng.normal(0, 1, A) * arr_sig), lo, hi)
        self.platform = np.array([PLATFORM_SHARE[x] for x in plan])
        seats0 = np.clip(np.round(arr0 * (1 - self.platform) / self.pps), 3, 2000).astype(int)
        seats0[1] = 8  # DataFlow: "2 of 8 provisioned users"
        self.arr0 = arr0
        self.seats0 = seats0

        # Contract terms (months), billing and auto-renew
        term_opts = {0: ([12, 24, 36], [0.55, 0.30, 0.15]), 1: ([12, 24, 36], [0.80, 0.15, 0.05]),
                     2: ([1, 12, 24], [0.30, 0.65, 0.05])}
        term = np.zeros(A, dtype=int)
        for s, (opts, w) in term_opts.items():
            m = seg == s
            term[m] = rng.choice(opts, m.sum(), p=w)
        term[0] = term[1] = 12
        self.term = term
        billing = np.where(term == 1, "monthly", "annual").astype(object)
        quarterly = (seg == 1) & (rng.random(A) < 0.25)
        billing[quarterly & (term > 1)] = "quarterly"
        monthly_smb = (seg == 2) & (term > 1) & (rng.random(A) < 0.4)
        billing[monthly_smb] = "monthly"
        billing[1] = "quarterly"
        self.billing = billing
        self.auto_renew = rng.random(A) < np.array([0.2, 0.5, 0.8])[seg]

        # Signup: 72 % before the window (up to 4 years), the rest during it.
        D = self.D
        before = rng.random(A) < 0.72
        offs = np.where(
            before,
            -rng.integers(1, 48 * 30, A),
            rng.integers(0, max(D - 21, 1), A),
        )
        signup = self.start + offs
        # Deals close at quarter ends: renewals cluster there too.
        qe = rng.random(A) < 0.55
        month = signup.astype("datetime64[M]")
        mnum = month.astype(int) % 12
        qe_month = month + (2 - mnum % 3)
        qe_day = (qe_month + 1).astype("datetime64[D]") - 1 - rng.integers(0, 10, A)
        signup = np.where(qe & (qe_day < self.as_of - 14), qe_day, signup)
        # Archetypes: TechCorp signed ~24 months ago; DataFlow's renewal is 127 days out.
        signup[0] = add_months(np.array([self.as_of]), -24)[0] - 3
        dataflow_renewal = self.as_of + 127
        signup[1] = add_months(np.array([dataflow_renewal]), -24)[0]
        self.signup = signup.astype("datetime64[D]")
        self.signup_day = (self.signup - self.start).astype(int)

        # CSM books: enterprise ~45, mid-market ~75, SMB ~110 accounts per CSM.
        owners = np.empty(A, dtype=object)
        people = [f"{first} {last}" for last in N.LAST_NAMES for first in N.FIRST_NAMES]
        person_rng = np.random.default_rng(np.random.SeedSequence([self.p.seed, 11]))
        people = list(np.array(people)[person_rng.permutation(len(people))])
        if "Sarah Williams" in people:  # reserved for TechCorp's CSM
            people.remove("Sarah Williams")
        used = 0
        for s, book in ((0, 45), (1, 75), (2, 110)):
            idx = np.flatnonzero(seg == s)
            k = max(1, int(round(len(idx) / book)))
            csms = people[used:used + k]
            used += k
            if s == 0:
                csms[0] = "Sarah Williams"  # the seeds' CSM for TechCorp
            order = rng.permutation(len(idx))
            owners[idx[order]] = np.array(csms, dtype=object)[np.arange(len(idx)) % k]
        owners[0] = "Sarah Williams"
        self.owner = owners
        self.people_pool = people[used:]

        self.accounts_df = pd.DataFrame(
            {
                "account_id": ids,
                "name": self.names,
                "industry": industry,
                "country": self.country,
                "region": self.region,
                "segment": SEGMENTS[seg],
                "plan": plan.astype(str),
                "csm_owner": owners.astype(str),
                "signup_date": self.signup,
                "employees": employees,
            }
        )

    # ------------------------------------------------------------------ #
    # latent engagement and risk episodes
    # ------------------------------------------------------------------ #
    def _latent(self) -> None:
        rng, A, D = self.rng, self.A, self.D
        seg = self.seg
        base = rng.beta(6, 2, A) * 0.85 + 0.13 + np.array([0.03, 0.0, -0.02])[seg]
        K = 4
        rate = np.array([0.22, 0.34, 0.45])[seg] * (self.p.months + 4) / 12.0
        n_ep = np.minimum(rng.poisson(rate), K)
        ep_on = np.arange(K)[None, :] < n_ep[:, None]
        start = rng.integers(-120, D, (A, K))
        ramp = rng.uniform(20, 75, (A, K))
        depth = rng.uniform(0.22, 0.58, (A, K))
        recovers = rng.random((A, K)) < 0.5
        # recovering episodes end after 1-4 months; the others linger 5-10 months
        end = start + ramp + np.where(recovers, rng.uniform(30, 120, (A, K)),
                                      rng.uniform(150, 300, (A, K)))
        chan = rng.choice(4, (A, K), p=[0.35, 0.25, 0.25, 0.15])
        # Disengagement tends to build up before a renewal decision (budget reviews,
        # re-evaluation): 55 % of episodes start 30-140 days before an anniversary.
        ann = self._anniversary_days(lo=-60, hi=D + 150)
        has_ann = np.isfinite(ann).any(axis=1)
        pick = np.argmax(np.where(np.isfinite(ann), rng.random(ann.shape), -1), axis=1)
        ann_day = np.where(has_ann, ann[np.arange(A), pick], 0)
        to_renewal = (rng.random((A, K)) < 0.55) & has_ann[:, None]
        lead = rng.uniform(30, 140, (A, K))
        start = np.where(to_renewal, (ann_day[:, None] - lead).astype(int), start)
        # New accounts: 15 % fail onboarding (a persistent, shallow usage dip).
        failed = (self.signup_day > -30) & (rng.random(A) < 0.15)
        start[:, 0] = np.where(failed, self.signup_day + 20, start[:, 0])
        ramp[:, 0] = np.where(failed, 40, ramp[:, 0])
        depth[:, 0] = np.where(failed, rng.uniform(0.3, 0.5, A), depth[:, 0])
        end[:, 0] = np.where(failed, start[:, 0] + 10_000, end[:, 0])
        chan[:, 0] = np.where(failed, 0, chan[:, 0])
        ep_on[:, 0] |= failed

        # Archetypes
        base[0] = 0.93
        ep_on[0] = False
        base[1] = 0.86
        ep_on[1] = False
        ep_on[1, :2] = True
        start[1, :2] = D - 75
        ramp[1, :2] = (45, 45)
        depth[1, :2] = (0.35, 0.30)
        end[1, :2] = 10_000 + D
        chan[1, :2] = (0, 2)  # usage and relationship

        self.ep = dict(on=ep_on, start=start, ramp=ramp, depth=depth, end=end, chan=chan)
        self._interventions(failed)
        months = self.p.months + 2
        knots = np.cumsum(rng.normal(0, 0.03, (A, months + 1)), axis=1)
        knots -= knots.mean(axis=1, keepdims=True)
        knots[0] = np.abs(knots[0]) * 0.2
        knots[1] = 0.0
        self.drift_knots = knots
        self.base = base
        self.growth = np.where(
            rng.random(A) < np.array([0.45, 0.35, 0.25])[seg], rng.uniform(0.02, 0.07, A), 0.0
        ) + rng.normal(0, 0.004, A)
        self.growth[0] = 0.05
        self.growth[1] = 0.0
        self.demand0 = rng.uniform(0.45, 0.85, A)
        self.demand0[0] = 0.8
        self.demand0[1] = 1.0
        self.e = np.empty((A, D), dtype=np.float32)
        for lo in range(0, A, CHUNK_ACCOUNTS):
            sl = slice(lo, min(lo + CHUNK_ACCOUNTS, A))
            self.e[sl] = self._engagement(sl)

    def _interventions(self, failed: np.ndarray) -> None:
        """CSM playbooks run in the past, with their causal effect on engagement, so
        "Do playbooks work?" has something true to find. They draw from their own random
        stream: the rest of the portfolio's randomness is unchanged. Never on the two
        archetype accounts.

        * ``retention_14d``: a CSM notices half of the usage dips that start inside the
          window, 2-6 weeks in, and runs the playbook; in 70 % of runs the dip ends 3-8
          weeks after the start instead of when it would have (effective).
        * ``onboarding_90d``: half of the accounts signing up inside the window get it; it
          turns half of the failed onboardings into normal ones (effective).
        * ``renewal``: started 120 days before a third of the renewals; it changes
          nothing in engagement (the control: a playbook with no measurable effect).

        Sets ``self.playbook_runs``: ``(account, playbook key, start day, base day)``."""
        rng = np.random.default_rng(np.random.SeedSequence([self.p.seed, 11]))
        ep, D = self.ep, self.D
        A, K = ep["on"].shape
        runs: list[tuple[int, str, int, int]] = []
        eligible = np.ones(A, dtype=bool)
        eligible[:2] = False  # the archetypes keep their scripted stories
        in_trial = self._experiment(eligible)  # (account, dip) held by the experiment
        detect = ep["start"] + rng.uniform(14, 42, (A, K))
        noticed = (ep["on"] & (ep["start"] >= 0) & (detect < D - 1) & (detect < ep["end"])
                   & eligible[:, None] & (rng.random((A, K)) < 0.5)) & ~in_trial
        works = noticed & (rng.random((A, K)) < 0.7)
        ep["end"] = np.where(works, np.minimum(ep["end"], detect + rng.uniform(21, 56, (A, K))),
                             ep["end"])
        for a, k in zip(*np.nonzero(noticed), strict=True):
            runs.append((int(a), "retention_14d", int(detect[a, k]), int(detect[a, k])))
        new = eligible & (self.signup_day >= 0) & (self.signup_day < D - 1)
        onboarded = new & (rng.random(A) < 0.5)
        rescued = onboarded & failed & (rng.random(A) < 0.5)
        ep["on"][:, 0] &= ~rescued
        self.failed_onboarding = failed & ~rescued  # stalls its success plan (issue 20)
        for a in np.flatnonzero(onboarded):
            runs.append((int(a), "onboarding_90d", int(self.signup_day[a]),
                         int(self.signup_day[a])))
        ann = self._anniversary_days(lo=120, hi=D + 120)
        for a in np.flatnonzero(eligible):
            for day in ann[a][np.isfinite(ann[a])]:
                if rng.random() < 1 / 3:
                    runs.append((int(a), "renewal", int(day) - 120, int(day)))
        self.playbook_runs = sorted(runs, key=lambda r: (r[2], r[0]))

    def _experiment(self, eligible: np.ndarray) -> np.ndarray:
        """The population of a randomized experiment the CS team ran (issue 25):
        :data:`EXPERIMENT` days before the as-of date, the accounts (not the archetypes)
        in a usage dip then. Sets ``trial_day`` (``None`` when the window is too short)
        and returns the (account, dip) pairs it holds, which the CSMs' own retention runs
        leave alone; :meth:`_start_trial` assigns the arms once it is known who is still
        a customer that day."""
        ep, D = self.ep, self.D
        held = np.zeros_like(ep["on"])
        self.trial_day, self.trial_arms, self.trial_strata = None, {}, {}
        day = D - EXPERIMENT["days_before"]
        if day < 90:
            return held
        dipping = ep["on"] & (ep["start"] <= day) & (ep["end"] > day + 14)
        pool = np.flatnonzero(eligible & (self.signup_day < day - 30) & dipping.any(axis=1))
        held[pool] = dipping[pool]
        self.trial_day, self._trial_pool, self._trial_dips = day, pool, dipping
        return held

    def _start_trial(self) -> None:
        """Assign the experiment's arms and give the playbook arm its effect, from their
        own random stream: a first pass of the contracts says which accounts of the
        population are still customers on the start day; they are assigned at random,
        stratified by segment, to no playbook or the 14-day retention playbook; in the
        playbook arm 80 % of the dips end 2-6 weeks after the start instead of when they
        would have. The portfolio's random stream is then rewound, so the contracts run
        again identically up to the start day and differ after it only through the
        playbook. Sets ``trial_arms`` ({arm: accounts}) and ``trial_strata``."""
        if self.trial_day is None:
            return
        ep, day = self.ep, self.trial_day
        rewind = self.rng.bit_generator.state
        self._contracts()  # the first pass: who is a customer on the start day
        pool = self._trial_pool[self.churn_day[self._trial_pool] > day]
        rng = np.random.default_rng(np.random.SeedSequence([self.p.seed, 13]))
        arms = ["none", EXPERIMENT["playbook"]]
        out: dict[str, list[int]] = {a: [] for a in arms}
        for s, sname in enumerate(SEGMENTS):
            ids = pool[self.seg[pool] == s]
            ids = ids[rng.permutation(len(ids))]
            first = int(rng.integers(2))
            for j, a in enumerate(ids):
                out[arms[(first + j) % 2]].append(int(a))
                self.trial_strata[int(a)] = f"{sname} · in a usage dip"
        treated = np.zeros(self.A, dtype=bool)
        treated[out[EXPERIMENT["playbook"]]] = True
        works = self._trial_dips & treated[:, None] & (rng.random(ep["on"].shape) < 0.8)
        ep["end"] = np.where(works, np.minimum(ep["end"],
                                               day + rng.uniform(14, 42, ep["on"].shape)),
                             ep["end"])
        idx = np.flatnonzero(treated)
        if len(idx):
            self.e[idx] = self._engagement(idx)
        self._e_prefix = None  # engagement changed: the window means are built again
        self.trial_arms = out
        self.playbook_runs = sorted(
            self.playbook_runs + [(int(a), EXPERIMENT["playbook"], day, day) for a in idx],
            key=lambda r: (r[2], r[0]))
        self.rng.bit_generator.state = rewind

    def _anniversary_days(self, lo: int, hi: int) -> np.ndarray:
        """Contract anniversaries (days from the window start) in ``[lo, hi)``, per
        account of a multi-month term; shape (accounts, 60), NaN-padded."""
        k = np.arange(1, 61)
        out = np.full((self.A, len(k)), np.nan)
        multi = self.term > 1
        for j in k:
            d = (add_months(self.signup, j * self.term) - self.start).astype(int)
            ok = multi & (d >= lo) & (d < hi)
            out[ok, j - 1] = d[ok]
        return out

    def _dips(self, sl: slice) -> np.ndarray:
        """Channel dips, shape (4, accounts in slice, days), float32."""
        ep = self.ep
        d = np.arange(self.D, dtype=np.float32)[None, None, :]
        st = ep["start"][sl][:, :, None]
        t = d - st
        shape = np.clip(t / ep["ramp"][sl][:, :, None], 0, 1)
        rec = np.clip(1 - (d - ep["end"][sl][:, :, None]) / 30.0, 0, 1)
        dip = (ep["depth"][sl][:, :, None] * shape * rec * ep["on"][sl][:, :, None]).astype(
            np.float32
        )
        out = np.zeros((4, dip.shape[0], self.D), dtype=np.float32)
        for c in range(4):
            out[c] = (dip * (ep["chan"][sl] == c)[:, :, None]).sum(axis=1)
        return out

    def _engagement(self, sl: slice) -> np.ndarray:
        d = np.arange(self.D)
        f = d / 30.44
        i0 = np.floor(f).astype(int)
        w = (f - i0)[None, :]
        k = self.drift_knots[sl]
        drift = k[:, i0] * (1 - w) + k[:, i0 + 1] * w
        dips = self._dips(sl).sum(axis=0)
        e = self.base[sl, None] + drift - dips
        since = d[None, :] - self.signup_day[sl, None]
        onboard = 0.55 + 0.45 * np.clip(since / 60.0, 0, 1)
        return np.clip(e * onboard, 0.02, 0.98).astype(np.float32)

    def _window_mean_e(self, acc: np.ndarray, day: np.ndarray, width: int = 30) -> np.ndarray:
        """Mean engagement over ``[day - width, day)`` per account (prefix sums of ``e``,
        built once: ``e`` does not change after :meth:`_latent`)."""
        cs = getattr(self, "_e_prefix", None)
        if cs is None:
            cs = np.concatenate([np.zeros((self.A, 1)), np.cumsum(self.e, axis=1)], axis=1)
            self._e_prefix = cs
        hi = np.clip(day, 1, self.D)
        lo = np.clip(day - width, 0, self.D - 1)
        lo = np.minimum(lo, hi - 1)
        return (cs[acc, hi] - cs[acc, lo]) / (hi - lo)

    # ------------------------------------------------------------------ #
    # contracts: renewals, churn, expansion, contraction
    # ------------------------------------------------------------------ #
    def _contracts(self) -> None:
        A, D = self.A, self.D
        M = self.p.months
        cs, anchor, k_next = self._contract_in_force()
        next_r = add_months(anchor, k_next * self.term)
        tenure_terms = np.maximum(((cs - self.signup).astype(int) / 365.0), 0)
        arr = self.arr0 * 1.04 ** tenure_terms
        seats = self.seats0.copy().astype(float)

        self.subs: list[dict] = []
        self.opps: list[dict] = []
        self.called_renewals: list[tuple] = []  # (account, renewal day, ARR due)
        self.churn: list[dict] = []
        main = np.array([self._new_sub(a, cs[a], arr[a], seats[a]) for a in range(A)])
        addons: list[list[int]] = [[] for _ in range(A)]
        alive = self.signup_day < D
        churn_day = np.full(A, D + 10_000)
        last_event = np.full(A, -10_000)  # day of the latest renewal, per account

        month_start = add_months(np.full(M + 1, self.start), np.arange(M + 1))
        ms_day = (month_start - self.start).astype(int)
        self.seats_m = np.zeros((A, M), dtype=np.float32)
        self.demand_m = np.zeros((A, M), dtype=np.float32)
        # demand (users who want a seat) grows from demand0 x first seats at `growth`/month
        for m in range(M):
            p0, p1 = ms_day[m], ms_day[m + 1]
            live = alive & (self.signup_day < p1)  # before this month's renewals
            t_months = np.maximum(m - np.maximum(self.signup_day, 0) / 30.44, 0)
            demand = self.demand0 * self.seats0 * np.exp(self.growth * t_months)
            demand[0] = self.demand0[0] * seats[0] * 1.02  # TechCorp stays near full use
            e_m = self._window_mean_e(np.arange(A), np.full(A, min(p1, D)), p1 - p0)

            # --- renewals due this month (repeat: a short month can hold two) ---
            while True:
                due = alive & (next_r >= month_start[m]) & (next_r < month_start[m + 1])
                due &= (next_r < self.as_of)
                if not due.any():
                    break
                r_days = (next_r - self.start).astype(int)
                self._renew(due, next_r, anchor, k_next, main, addons, arr, seats, demand,
                            alive, churn_day, self._new_sub)
                last_event = np.where(due, r_days, last_event)
            self._expand(m, (p0, p1), live & (self.signup_day < p0), demand, e_m, seats, arr,
                         main, addons, alive, last_event)
            self.seats_m[:, m] = seats
            self.demand_m[:, m] = demand

        # open renewal opportunities within 120 days of the as-of date
        for a in np.flatnonzero(alive & (self.term > 1)):
            r = next_r[a]
            if (r - self.as_of).astype(int) <= 120:
                self._renewal_opp(a, r, arr[a], float(self.e[a, -30:].mean()), won=None)
        self.alive = alive
        self.churn_day = churn_day
        self.next_renewal = next_r
        self.final_arr = np.where(alive, arr, 0.0)
        self.final_seats = seats
        self.ms_day = ms_day

    def _contract_in_force(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The contract start in force at the window start (or the first one), the
        anniversary anchor and the number of terms to the next renewal after it."""
        term, A = self.term, self.A
        cs = self.signup.copy()
        for _ in range(60):
            nxt = add_months(cs, term)
            move = (nxt <= self.start) & (term > 1)
            if not move.any():
                break
            cs = np.where(move, nxt, cs)
        # anniversaries are anchored on the contract start: anchor + k * term months
        anchor = cs.copy()
        k_next = np.ones(A, dtype=int)
        for _ in range(60):  # month-to-month: one subscription row since signup
            behind = (term == 1) & (add_months(anchor, k_next * term) <= self.start)
            if not behind.any():
                break
            k_next += behind
        return cs, anchor, k_next

    def _new_sub(self, a, start, arr_v, seats_v, kind="main") -> int:
        """Append a subscription row; returns its index in ``self.subs``."""
        self.subs.append(
            dict(subscription_id=f"SUB-{len(self.subs) + 1:06d}", acc=a, start_date=start,
                 end_date=None, arr=float(arr_v), seats=int(seats_v), status="active", kind=kind)
        )
        return len(self.subs) - 1

    def _expand(self, m, days, cand_live, demand, e_m, seats, arr, main, addons, alive,
                last_event) -> None:
        """Expansion in month ``m`` (days ``[p0, p1)``): demand outgrows seats; a won
        expansion adds seats (an add-on, or a new subscription for month-to-month)."""
        rng, A, D, term = self.rng, self.A, self.D, self.term
        M = self.p.months
        p0, p1 = days
        pressure = demand / np.maximum(seats, 1)
        cand = cand_live & (pressure > 0.85) & (e_m > 0.55)
        hazard = np.where(cand, 0.16, 0.0)
        hazard[0] = 1.0 if m in (M - 14, M - 4) else 0.0  # TechCorp expands
        hazard[1] = 0.0
        exp_now = rng.random(A) < hazard
        lost_exp = cand & ~exp_now & (rng.random(A) < 0.06)
        for a in np.flatnonzero(exp_now | lost_exp):
            first = max(p0, last_event[a])  # never before this month's renewal
            if first >= p1 or not alive[a]:
                continue
            x_day = int(rng.integers(first, p1))
            if x_day >= D:
                continue
            add = max(1, int(math.ceil(seats[a] * rng.uniform(0.1, 0.35))))
            amount = add * arr[a] / max(seats[a], 1)
            created = self.start + x_day - int(rng.integers(20, 75))
            x = self.start + x_day
            won = bool(exp_now[a])
            self.opps.append(
                dict(acc=a, type="expansion", stage="closed_won" if won else "closed_lost",
                     amount=round(amount, 2), probability=1.0 if won else 0.0,
                     forecast_category="commit" if won else "omitted", close_date=x,
                     status="won" if won else "lost", created_at=created,
                     name=f"{self.names[a]} - add {add} seats")
            )
            if not won:
                continue
            seats[a] += add
            arr[a] += amount
            if term[a] == 1:  # month-to-month: the subscription is replaced
                self.subs[main[a]]["end_date"] = x
                self.subs[main[a]]["status"] = "ended"
                main[a] = self._new_sub(a, x, arr[a], seats[a])
            else:
                addons[a].append(self._new_sub(a, x, amount, add, kind="addon"))

    def _renew(self, due, next_r, anchor, k_next, main, addons, arr, seats, demand, alive,
               churn_day, new_sub) -> None:
        """Decide churn or renewal for the accounts ``due``; update state in place."""
        rng, A, D, term = self.rng, self.A, self.D, self.term
        r_day = (next_r - self.start).astype(int)
        ebar = self._window_mean_e(np.arange(A), np.clip(r_day, 1, D), 30)
        alpha = np.array([-2.2, -1.8, -1.35])[self.seg]
        p_annual = _sigmoid(alpha + 10.0 * (0.5 - ebar)) + 0.025
        p_month = _sigmoid(alpha - 2.6 + 10.0 * (0.5 - ebar)) + 0.003
        p_churn = np.where(term == 1, p_month, p_annual)
        p_churn[:2] = 0.0  # the archetypes reach their seeded state
        churns = due & (rng.random(A) < p_churn)
        for a in np.flatnonzero(due):
            r = next_r[a]
            rd = int(r_day[a])
            if churns[a]:
                alive[a] = False
                churn_day[a] = rd
                for si in [main[a], *addons[a]]:
                    self.subs[si]["end_date"] = r
                    self.subs[si]["status"] = "churned"
                self.churn.append(dict(acc=a, day=rd, arr_lost=float(arr[a])))
                if term[a] > 1:
                    self._renewal_opp(a, r, arr[a], ebar[a], won=False)
                continue
            k_next[a] += 1
            next_r[a] = add_months(anchor[a:a + 1], k_next[a] * term[a])[0]
            if term[a] == 1:
                continue
            self._renewal_opp(a, r, arr[a], ebar[a], won=True)
            for si in [main[a], *addons[a]]:
                self.subs[si]["end_date"] = r
                self.subs[si]["status"] = "ended"
            addons[a] = []
            engaged = min(demand[a], seats[a]) * (0.3 + 0.7 * ebar[a])
            if ebar[a] < 0.55 and rng.random() < 0.4 and a > 1:  # right-size: contraction
                new_seats = max(3, int(math.ceil(engaged * 1.15)))
                new_seats = min(new_seats, int(seats[a]))
                arr[a] = arr[a] * new_seats / seats[a] * 0.98
                seats[a] = new_seats
            elif ebar[a] > 0.6 and rng.random() < 0.6:
                arr[a] *= rng.uniform(1.03, 1.07)  # price uplift
            main[a] = new_sub(a, r, arr[a], seats[a])

    def _renewal_opp(self, a, r, amount, ebar, won):
        self.called_renewals.append((int(a), r, float(amount)))
        noisy = ebar + self.rng.normal(0, 0.08)
        cat = "commit" if noisy > 0.68 else "best_case" if noisy > 0.55 else (
            "pipeline" if noisy > 0.4 else "omitted")
        prob = {"commit": 0.9, "best_case": 0.7, "pipeline": 0.45, "omitted": 0.15}[cat]
        days_left = int((r - self.as_of).astype(int))
        if won is None:
            stage = ("discovery" if days_left > 90 else "proposal" if days_left > 60
                     else "negotiation" if days_left > 30 else "contract_sent")
            status = "open"
        else:
            stage, status = ("closed_won", "won") if won else ("closed_lost", "lost")
            prob = 1.0 if won else 0.0
        self.opps.append(
            dict(acc=a, type="renewal", stage=stage, amount=round(float(amount), 2),
                 probability=prob, forecast_category=cat, close_date=r, status=status,
                 created_at=r - 120, name=f"{self.names[a]} - renewal")
        )

    # ------------------------------------------------------------------ #
    # contacts (champion changes are point-in-time via started_at / ended_at)
    # ------------------------------------------------------------------ #
    def _contacts(self) -> None:
        rng, A, D = self.rng, self.A, self.D
        n = rng.integers(np.array([7, 5, 3])[self.seg], np.array([13, 9, 6])[self.seg])
        rows = []
        ep = self.ep
        champ_left = np.full(A, -1)
        rel_or_deep = ep["on"] & ((ep["chan"] == 2) | (ep["depth"] > 0.5))
        for a in range(A):
            cands = np.flatnonzero(rel_or_deep[a])
            for k in cands:
                d = int(ep["start"][a, k] + ep["ramp"][a, k] * 0.5)
                if 0 <= d < min(D, self.churn_day[a]) and rng.random() < (
                    0.75 if ep["chan"][a, k] == 2 else 0.3
                ):
                    champ_left[a] = d
                    break
        champ_left[0] = -1
        champ_left[1] = D - 45  # DataFlow: Jennifer Walsh moved to another department
        self.champ_left = champ_left
        fixed = {
            0: [("Sarah Johnson", "champion", "IT Director"),
                ("Mike Chen", "executive_sponsor", "VP Security"),
                ("David Kim", "decision_maker", "CTO"),
                ("Jennifer Park", "decision_maker", "Chief Data Officer")],
            1: [("Jennifer Walsh", "champion", "Data Director"),
                ("Mark Rodriguez", "executive_sponsor", "Chief Data Officer")],
        }
        first = np.array(N.FIRST_NAMES)
        last = np.array(N.LAST_NAMES)
        cid = 0
        for a in range(A):
            domain = "".join(ch for ch in self.names[a].lower() if ch.isalnum())[:18] + ".example"
            roles = ["champion", "executive_sponsor"] + (["decision_maker"] if n[a] >= 4 else [])
            roles += ["admin"] + ["user"] * max(0, n[a] - len(roles) - 1)
            signup = self.signup[a]
            for j, role in enumerate(roles[: n[a]]):
                if a in fixed and j < len(fixed[a]):
                    full, role, title = fixed[a][j]
                else:
                    full = f"{first[rng.integers(len(first))]} {last[rng.integers(len(last))]}"
                    opts = N.TITLES[role]
                    title = opts[rng.integers(len(opts))]
                cid += 1
                ended = None
                if role == "champion" and champ_left[a] >= 0:
                    ended = self.start + champ_left[a]
                churned = not self.alive[a]
                end_for_churn = self.start + min(self.churn_day[a], self.D - 1)
                last_eng = (ended - int(rng.integers(3, 20))) if ended is not None else (
                    end_for_churn - int(rng.integers(5, 60)) if churned
                    else self.as_of - int(rng.integers(1, 40 if role != "user" else 90)))
                rows.append(dict(
                    contact_id=f"CON-{cid:06d}", account_id=self.ids[a], name=full,
                    email=f"{full.lower().replace(' ', '.')}@{domain}", title=title, role=role,
                    active=ended is None and not churned, last_engaged_at=last_eng,
                    started_at=signup, ended_at=ended if ended is not None else (
                        end_for_churn if churned else None),
                ))
            if role is not None and champ_left[a] >= 0 and a != 1 and rng.random() < 0.5:
                rep_day = champ_left[a] + int(rng.integers(30, 100))
                if rep_day < min(D, self.churn_day[a]):
                    full = f"{first[rng.integers(len(first))]} {last[rng.integers(len(last))]}"
                    cid += 1
                    rows.append(dict(
                        contact_id=f"CON-{cid:06d}", account_id=self.ids[a], name=full,
                        email=f"{full.lower().replace(' ', '.')}@{domain}",
                        title=N.TITLES["champion"][0], role="champion",
                        active=bool(self.alive[a]),
                        last_engaged_at=self.start + min(rep_day + 20, D - 1),
                        started_at=self.start + rep_day, ended_at=None,
                    ))
        df = pd.DataFrame(rows)
        for c in ("last_engaged_at", "started_at", "ended_at"):
            df[c] = pd.to_datetime(df[c])
        self.contacts_df = df

    # ------------------------------------------------------------------ #
    # daily facts: usage and tickets, in chunks of accounts
    # ------------------------------------------------------------------ #
    def _season(self) -> np.ndarray:
        """Day factor per region (4 x D): weekday pattern x public holidays."""
        import holidays

        dow = ((self.days.astype("datetime64[D]").astype(int) + 3) % 7)  # 0 = Monday
        week = np.array([1.0, 1.02, 1.0, 0.97, 0.82, 0.12, 0.08])[dow]
        regions = sorted(N.REGION_HOLIDAY_COUNTRY)
        years = range(int(str(self.start)[:4]), int(str(self.as_of)[:4]) + 1)
        out = np.empty((len(regions), self.D), dtype=np.float32)
        dates = pd.to_datetime(self.days).date
        xmas = np.array([(d.month == 12 and d.day >= 24) or (d.month == 1 and d.day <= 2)
                         for d in dates])
        for i, reg in enumerate(regions):
            hol = holidays.country_holidays(N.REGION_HOLIDAY_COUNTRY[reg], years=years)
            is_h = np.array([d in hol for d in dates])
            f = week * np.where(is_h, 0.25, 1.0) * np.where(xmas, 0.45, 1.0)
            out[i] = f
        self.region_index = {r: i for i, r in enumerate(regions)}
        return out

    def _daily_facts(self, usage_sink=None) -> dict[str, pd.DataFrame]:
        """Usage and tickets, simulated :data:`CHUNK_ACCOUNTS` accounts at a time. With
        ``usage_sink`` each chunk's usage rows go to it (and ``usage`` is returned
        empty), so memory stays bounded by one chunk."""
        season = self._season()
        reg_idx = np.array([self.region_index[r] for r in self.region])
        usage_parts, ticket_parts = [], []
        feat_names = np.array([f[0] for f in N.FEATURES])
        feat_pop = np.array([f[1] for f in N.FEATURES])
        feat_err = np.array([f[2] for f in N.FEATURES])
        self.top_feature = np.full(self.A, feat_names[0], dtype=object)
        for ci, lo in enumerate(range(0, self.A, CHUNK_ACCOUNTS)):
            sl = slice(lo, min(lo + CHUNK_ACCOUNTS, self.A))
            rng = np.random.default_rng(np.random.SeedSequence([self.p.seed, 101, ci]))
            u, t = self._chunk_facts(sl, rng, season[reg_idx[sl]], feat_names, feat_pop, feat_err)
            ticket_parts.append(t)
            if usage_sink is None:
                usage_parts.append(u)
            else:
                usage_sink(self._usage_frame(u, feat_names))
        usage = self._usage_frame(pd.concat(usage_parts, ignore_index=True) if usage_parts
                                  else self._usage_frame_empty(), feat_names)
        tickets = pd.concat(ticket_parts, ignore_index=True)
        tickets.insert(0, "ticket_id", [f"TCK-{i + 1:07d}" for i in range(len(tickets))])
        tickets.insert(1, "account_id", self.ids[tickets.pop("acc").to_numpy()])
        return {"usage": usage, "tickets": tickets}

    def _usage_frame(self, usage: pd.DataFrame, feat_names) -> pd.DataFrame:
        """Account and feature codes of simulated usage rows as their names."""
        usage["account_id"] = pd.Categorical.from_codes(usage.pop("acc").to_numpy(), self.ids)
        usage["feature"] = pd.Categorical.from_codes(usage["feature"].to_numpy(), feat_names)
        return usage

    def _usage_frame_empty(self) -> pd.DataFrame:
        return pd.DataFrame({"acc": np.array([], dtype=np.int64),
                             "feature": np.array([], dtype=np.int64)})

    def _chunk_facts(self, sl, rng, season, feat_names, feat_pop, feat_err):
        D = self.D
        acc = np.arange(sl.start, sl.stop)
        nA = len(acc)
        e = self.e[sl]
        dips = self._dips(sl)
        day = np.arange(D)
        alive = (day[None, :] >= self.signup_day[sl, None]) & (day[None, :] < self.churn_day[sl, None])
        alive &= (day[None, :] >= 0)
        m_of_day = np.searchsorted(self.ms_day, day, side="right") - 1
        m_of_day = np.clip(m_of_day, 0, self.p.months - 1)
        seats_d = self.seats_m[sl][:, m_of_day]
        demand_d = self.demand_m[sl][:, m_of_day]
        engaged = np.floor(np.minimum(seats_d, demand_d) * (0.3 + 0.7 * e) + 0.5)
        engaged = np.maximum(engaged, 1)
        usage_mult = np.ones((nA, D), dtype=np.float32)
        if sl.start <= 1 < sl.stop:  # DataFlow: logins down ~67 % over 60 days, 2 of 8 active
            i = 1 - sl.start
            ramp = np.clip((day - (D - 60)) / 60.0, 0, 1)
            # per-user login frequency follows the seeds' curve, not the latent term
            usage_mult[i] = (1.0 - 0.67 * ramp) / (0.35 + 0.65 * e[i])
            engaged[i, : D - 60] = 8
            engaged[i, D - 60:] = np.round(np.linspace(8, 2, 60))
            engaged[i, D - 35:] = 2
        n_users = np.minimum(np.maximum(seats_d.max(axis=1), 1), MAX_SIM_USERS).astype(int)
        user_acc = np.repeat(np.arange(nA), n_users)
        user_rank = np.concatenate([np.arange(k) for k in n_users])
        prop = rng.beta(2.2, 2.2, len(user_acc)) * 0.85 + 0.1
        # power users first within each account
        order = np.lexsort((-prop, user_acc))
        prop = prop[order]
        if sl.start <= 1 < sl.stop:
            prop[user_acc == 1 - sl.start] = 0.9
        rows_u, rows_d = [], []
        step = 2000
        for ulo in range(0, len(user_acc), step):
            ua = user_acc[ulo:ulo + step]
            ur = user_rank[ulo:ulo + step]
            pr = (prop[ulo:ulo + step, None] * season[ua] * (0.35 + 0.65 * e[ua])
                  * usage_mult[ua] * (ur[:, None] < engaged[ua]) * alive[ua])
            hit = rng.random(pr.shape, dtype=np.float32) < pr
            uu, dd = np.nonzero(hit)
            rows_u.append(uu + ulo)
            rows_d.append(dd)
        uidx = np.concatenate(rows_u)
        didx = np.concatenate(rows_d)
        aidx = user_acc[uidx]
        # features used that day: 1 + Binomial(2, 0.2), from the account's adopted set
        n_feat = 1 + rng.binomial(2, 0.2, len(uidx))
        rep = np.repeat(np.arange(len(uidx)), n_feat)
        k_in_day = np.concatenate([np.arange(k) for k in np.bincount(rep)]) if len(rep) else rep
        tenure_m = np.maximum(didx - self.signup_day[sl][aidx], 0) / 30.44
        breadth = np.clip(np.round(3 + 0.18 * tenure_m * (0.4 + e[aidx, didx])), 2, 12).astype(int)
        pref = rng.gumbel(size=(nA, len(feat_names))) + np.log(feat_pop)[None, :]
        feat_order = np.argsort(-pref, axis=1)
        self.top_feature[sl] = feat_names[feat_order[:, 0]]  # the account's favourite
        first_pick = np.floor(breadth * rng.random(len(uidx)) ** 1.8).astype(int)
        pick = (first_pick[rep] + k_in_day) % breadth[rep]
        feature = feat_order[aidx[rep], pick]
        uidx, didx, aidx = uidx[rep], didx[rep], aidx[rep]
        ee = e[aidx, didx]
        support = dips[1, aidx, didx]
        events = 1 + rng.poisson(5.0 * (0.4 + ee) * (0.6 + feat_pop[feature]))
        duration = events * rng.lognormal(np.log(40.0), 0.5, len(events)) * (0.45 + ee)
        err_p = np.clip(feat_err[feature] + 0.09 * support + 0.01 * (1 - ee), 0, 0.5)
        errors = rng.binomial(events, err_p)
        acc_ids = self.ids[sl][aidx]
        user_codes = np.char.add(np.char.add(acc_ids.astype(str), "-U"),
                                 np.char.zfill(user_rank[uidx].astype(str), 3))
        usage = pd.DataFrame({
            "acc": (aidx + sl.start).astype(np.int32),
            "date": (self.start + didx).astype("datetime64[s]"),
            "user_id": user_codes,
            "feature": feature.astype(np.int16),
            "events": events.astype(np.int32),
            "duration_seconds": np.round(duration, 1),
            "errors": errors.astype(np.int32),
        })

        # tickets: volume, priority, escalation and CSAT move with support dips
        seats_now = np.maximum(seats_d, 1)
        rate = (0.0035 * np.sqrt(seats_now) * season[:, :] * (1 + 3.0 * dips[1] + 1.2 * (1 - e))
                * alive)
        counts = rng.poisson(rate)
        ta, td = np.nonzero(counts)
        reps = counts[ta, td]
        ta, td = np.repeat(ta, reps), np.repeat(td, reps)
        nt = len(ta)
        sup = dips[1, ta, td]
        ue = e[ta, td]
        pri_p = np.stack([0.36 - 0.6 * sup, 0.44 - 0.3 * sup, 0.15 + 0.55 * sup, 0.05 + 0.35 * sup], 1)
        pri_p = np.clip(pri_p, 0.01, None)
        pri_p /= pri_p.sum(1, keepdims=True)
        pri = (rng.random(nt)[:, None] > np.cumsum(pri_p, 1)).sum(1)
        pri = np.minimum(pri, 3)
        pri_names = np.array(["low", "medium", "high", "urgent"])
        new_acct = (td - self.signup_day[sl][ta]) < 90
        cat_w = np.tile(np.array([0.24, 0.14, 0.07, 0.12, 0.09, 0.12, 0.22]), (nt, 1))
        cat_w[:, 0] += 0.5 * sup
        cat_w[:, 4] += 0.3 * sup
        cat_w[:, 1] += 0.4 * dips[0, ta, td]
        cat_w[:, 6] += 0.25 * new_acct
        cat_w /= cat_w.sum(1, keepdims=True)
        cat = (rng.random(nt)[:, None] > np.cumsum(cat_w, 1)).sum(1)
        cat = np.minimum(cat, len(N.TICKET_CATEGORIES) - 1)
        topic = rng.integers(0, len(N.TICKET_TOPICS), nt)
        opened = ((self.start + td).astype("datetime64[s]")
                  + rng.integers(7 * 3600, 19 * 3600, nt).astype("timedelta64[s]"))
        frm_med = np.array([240.0, 120.0, 45.0, 15.0])[pri]
        frm = np.round(frm_med * rng.lognormal(0, 0.6, nt) * (1 + 1.5 * sup), 0)
        res_med = np.array([48.0, 30.0, 20.0, 8.0])[pri]
        res_h = np.round(res_med * rng.lognormal(0, 0.7, nt) * (1 + 2.0 * sup), 1)
        closed = opened + (res_h * 3600).astype("timedelta64[s]")
        closed_ok = closed < self.as_of.astype("datetime64[s]")
        csat_given = rng.random(nt) < 0.45
        csat = np.clip(np.round(rng.normal(4.75 - 2.2 * sup - 1.0 * (1 - ue), 0.7)), 1, 5)
        esc = rng.random(nt) < (0.02 + 0.3 * sup + 0.1 * (pri == 3) + 0.05 * (1 - ue))
        subj = np.char.add(np.char.add(np.array(N.TICKET_CATEGORIES)[cat], ": "),
                           np.array(N.TICKET_TOPICS)[topic])
        tickets = pd.DataFrame({
            "acc": ta + sl.start,
            "opened_at": opened,
            "closed_at": pd.Series(np.where(closed_ok, closed, np.datetime64("NaT"))),
            "priority": pri_names[pri],
            "category": np.array(N.TICKET_CATEGORIES)[cat],
            "subject": subj,
            "csat": np.where(csat_given & closed_ok, csat, np.nan),
            "first_response_minutes": frm,
            "resolution_hours": np.where(closed_ok, res_h, np.nan),
            "escalated": esc,
        })
        return usage, tickets

    # ------------------------------------------------------------------ #
    # surveys, interactions, invoices, advocacy
    # ------------------------------------------------------------------ #
    def _alive_at(self, a: np.ndarray, d: np.ndarray) -> np.ndarray:
        return (d >= np.maximum(self.signup_day[a], 0)) & (d < self.churn_day[a]) & (d < self.D)

    def _surveys(self) -> pd.DataFrame:
        rng = self.rng
        c = self.contacts_df
        acc_index = {v: i for i, v in enumerate(self.ids)}
        ca = c["account_id"].map(acc_index).to_numpy()
        started = ((c["started_at"].to_numpy().astype("datetime64[D]") - self.start)
                   .astype(int))
        ended = c["ended_at"].to_numpy().astype("datetime64[D]")
        ended_day = np.where(pd.isna(c["ended_at"]).to_numpy(), self.D + 10_000,
                             (ended - self.start).astype(int))
        rows = []
        # NPS waves every 6 months (Mar and Sep), relationship CSAT each quarter
        waves = []
        for m in range(-1, self.p.months + 1):
            d0 = add_months(np.array([self.start]), m)[0]
            month_num = int(d0.astype("datetime64[M]").astype(int) % 12) + 1
            if month_num in (3, 9):
                waves.append(("nps", int((d0 - self.start).astype(int))))
            if month_num in (1, 4, 7, 10):
                waves.append(("csat", int((d0 - self.start).astype(int))))
        rid = 0
        for survey, w in waves:
            resp_day = w + rng.integers(0, 21, len(c))
            p = 0.38 if survey == "nps" else 0.18
            ok = (rng.random(len(c)) < p) & (resp_day >= 0) & (resp_day < self.D)
            ok &= (resp_day >= started) & (resp_day < ended_day) & self._alive_at(ca, resp_day)
            idx = np.flatnonzero(ok)
            a = ca[idx]
            d = resp_day[idx]
            e = self.e[a, d]
            dips = np.zeros(len(idx))
            for k in range(4):
                on = self.ep["on"][a, k]
                t = d - self.ep["start"][a, k]
                shape = np.clip(t / self.ep["ramp"][a, k], 0, 1) * on
                wt = np.where(np.isin(self.ep["chan"][a, k], (1, 2)), 1.5, 0.5)
                dips = dips + wt * shape * self.ep["depth"][a, k]
            if survey == "nps":
                score = np.clip(np.round(rng.normal(1.8 + 10.0 * e - 2.5 * dips, 1.4)), 0, 10)
            else:
                score = np.clip(np.round(rng.normal(1.2 + 4.2 * e - 1.0 * dips, 0.7)), 1, 5)
            for j, i in enumerate(idx):
                rid += 1
                if survey == "nps":
                    bucket = "promoter" if score[j] >= 9 else "passive" if score[j] >= 7 else "detractor"
                    opts = N.NPS_COMMENTS[bucket]
                    comment = opts[rng.integers(len(opts))] if rng.random() < 0.4 else None
                else:
                    comment = None
                ts = (self.start + int(d[j])).astype("datetime64[s]") + np.timedelta64(
                    int(rng.integers(8 * 3600, 18 * 3600)), "s")
                rows.append(dict(response_id=f"SRV-{rid:07d}", account_id=self.ids[a[j]],
                                 contact_id=c["contact_id"].iat[i], responded_at=ts,
                                 survey=survey, score=float(score[j]), comment=comment))
        # archetypes: TechCorp's sponsor is a promoter, DataFlow's champion a detractor
        for acc, cname, sc, dd in ((0, "Mike Chen", 10.0, self.D - 20), (1, "Jennifer Walsh", 3.0,
                                                                          self.D - 50)):
            con = c[(c["account_id"] == self.ids[acc]) & (c["name"] == cname)]
            if len(con) and dd >= 0:
                rid += 1
                rows.append(dict(response_id=f"SRV-{rid:07d}", account_id=self.ids[acc],
                                 contact_id=con["contact_id"].iat[0],
                                 responded_at=(self.start + dd).astype("datetime64[s]")
                                 + np.timedelta64(10 * 3600, "s"),
                                 survey="nps", score=sc,
                                 comment="Saves us hours every week." if sc > 8 else
                                 "Hard to get value; considering alternatives."))
        df = pd.DataFrame(rows)
        self._advocacy(df)
        return df

    def _interactions(self) -> pd.DataFrame:
        rng = self.rng
        cadence = np.array([14.0, 30.0, 55.0])[self.seg]
        rows = []
        iid = 0
        for a in range(self.A):
            lo = max(self.signup_day[a], 0)
            hi = min(self.churn_day[a], self.D)
            if hi <= lo:
                continue
            n = int((hi - lo) / cadence[a] * 1.6) + 3
            gaps = rng.exponential(cadence[a], n)
            days = (lo + rng.uniform(0, cadence[a]) + np.cumsum(gaps)).astype(int)
            days = days[days < hi]
            if a == 1:  # DataFlow: the last four check-ins were missed
                days = np.union1d(days, np.array([self.D - 52, self.D - 38, self.D - 24, self.D - 10]))
            if not len(days):
                continue
            dips = self._dips(slice(a, a + 1))[:, 0, :]
            e = self.e[a, days]
            rel = dips[2, days]
            att_p = np.clip(0.95 - 0.9 * rel - 0.4 * (1 - e), 0.03, 0.99)
            if self.seg[a] == 0:
                kinds = np.array(["meeting", "call", "email", "qbr", "ebr"])
                kp = [0.45, 0.2, 0.2, 0.1, 0.05]
            else:
                kinds = np.array(["meeting", "call", "email", "qbr"])
                kp = [0.35, 0.25, 0.32, 0.08]
            kind = kinds[rng.choice(len(kinds), len(days), p=kp)]
            att = rng.random(len(days)) < att_p
            if a == 1:
                att[days >= self.D - 60] = False
                kind[days >= self.D - 60] = "meeting"
            for j, d in enumerate(days):
                iid += 1
                rows.append(dict(
                    interaction_id=f"INT-{iid:07d}", account_id=self.ids[a],
                    occurred_at=(self.start + int(d)).astype("datetime64[s]")
                    + np.timedelta64(int(rng.integers(9, 17)) * 3600, "s"),
                    type=str(kind[j]), attended=None if kind[j] == "email" else bool(att[j]),
                    owner=self.owner[a], note=None,
                ))
        df = pd.DataFrame(rows)
        df["attended"] = df["attended"].astype("boolean")
        return df

    def _mentions(self) -> pd.DataFrame:
        """Community and social mentions (issue 25), from their own random stream: each
        customer's people post about the product in about 8 % of the months they are
        customers, in a tone that follows the account's engagement that day (low
        engagement: more negative posts, some of them naming a competitor); anonymous
        posts, one a day on average, name a competitor a third of the time. Reach is
        lognormal (median 500), engagement about 2 % of it."""
        rng = np.random.default_rng(np.random.SeedSequence([self.p.seed, 14]))
        D, A = self.D, self.A
        people = self.contacts_df.groupby("account_id")["name"].apply(list).to_dict()
        rows: list[dict] = []

        def post(day: int, tone: str, account: str | None, author: str) -> None:
            text = rng.choice(N.MENTION_TEXTS[tone])
            rival = N.COMPETITORS[int(rng.integers(len(N.COMPETITORS)))]
            reach = float(np.round(rng.lognormal(np.log(500), 1.2)))
            rows.append(dict(
                mention_id=f"MEN-{len(rows) + 1:06d}", account_id=account,
                source=N.MENTION_SOURCES[int(rng.integers(len(N.MENTION_SOURCES)))],
                author=author, text=text.format(product=N.PRODUCT, competitor=rival),
                occurred_at=self.start + day, reach=reach,
                engagement=float(rng.binomial(int(reach), 0.02)), url=None))

        months = max(D // 30, 1)
        for a in range(A):
            names = people.get(self.ids[a])
            if not names:
                continue
            lo = max(int(self.signup_day[a]), 0)
            hi = min(int(self.churn_day[a]), D - 1)
            n = rng.binomial(months, 0.08)
            for day in np.sort(rng.integers(0, D - 1, n)):
                if not lo <= day < hi:
                    continue
                e = float(self.e[a, day])
                p_neg = float(np.clip(0.6 - e, 0.05, 0.6))
                p_pos = float(np.clip(e - 0.2, 0.1, 0.7))
                u = rng.random()
                tone = "negative" if u < p_neg else "positive" if u < p_neg + p_pos \
                    else "neutral"
                post(int(day), tone, self.ids[a], names[int(rng.integers(len(names)))])
        for day in np.sort(rng.integers(0, D - 1, D)):
            tone = ("negative", "neutral", "positive")[int(rng.choice(3, p=[0.25, 0.4, 0.35]))]
            post(int(day), tone, None, f"@user{int(rng.integers(10_000, 99_999))}")
        df = pd.DataFrame(rows, columns=["mention_id", "account_id", "source", "author", "text",
                                         "occurred_at", "reach", "engagement", "url"])
        df["occurred_at"] = pd.to_datetime(df["occurred_at"])
        return df.sort_values(["occurred_at", "mention_id"], ignore_index=True)

    def _success_plans(self) -> dict[str, pd.DataFrame]:
        """Success plans (issue 20) for the accounts signing up inside the window, from
        their own random stream: the won deal that brought each one in (appended after
        the other opportunities, so their ids do not move), a plan from the segment's
        template (:data:`greendoor.success_plans.TEMPLATES`) started at signup, approved
        1-4 business days after submission, its manual milestones done with a small slip
        (15 % slip 10-25 days) -- except the failed onboardings (the persistent early dip
        that raises churn), whose integration slips 30-80 days or never happens, and
        whose value follows. Adoption milestones carry usage rules (counts from the
        account's seats) that Greendoor evaluates on the usage. Two value metrics per plan,
        measured monthly: realized gain = planned gain x a factor near 1, near 0.3 for a
        failed onboarding."""
        from greendoor import success_plans as SP

        rng = np.random.default_rng(np.random.SeedSequence([self.p.seed, 13]))
        D = self.D
        new = np.flatnonzero((self.signup_day >= 0) & (self.signup_day < D - 3))
        new = new[new > 1]
        contacts = self.contacts_df
        plans, ms, sh, vm, meas = [], [], [], [], []
        self.signup_deals = []
        for k, a in enumerate(new):
            day0 = int(self.signup_day[a])
            start = self.start + day0
            seg = SEGMENTS[self.seg[a]]
            tpl = SP.TEMPLATES[seg]
            failed = bool(self.failed_onboarding[a])
            pid = f"PLAN-{k + 1:05d}"
            self.signup_deals.append(dict(
                acc=a, type="new_business", stage="closed_won", amount=round(float(self.arr0[a]), 2),
                probability=1.0, forecast_category="commit", close_date=start - 2,
                status="won", created_at=start - int(rng.integers(30, 120)),
                name=f"{self.names[a]} - new business", plan_id=pid))
            created = pd.Timestamp(start - 2)
            submitted = created + pd.Timedelta(hours=float(rng.uniform(20, 60)))
            decided = pd.Timestamp(np.busday_offset(np.datetime64(submitted.date()), int(rng.choice(
                [0, 1, 1, 2, 2, 3, 4])), roll="forward")) + pd.Timedelta(
                hours=float(rng.uniform(9, 17)))
            decided = max(decided, submitted + pd.Timedelta(hours=1))
            seats = int(self.seats0[a])
            counts = {"first_users": max(2, round(0.15 * seats)),
                      "rollout_users": max(3, round(0.3 * seats)),
                      "feature_users": max(2, round(0.2 * seats)),
                      "feature": self.top_feature[a]}
            plans.append(dict(
                plan_id=pid, account_id=self.ids[a], opportunity_id=None,
                name=f"{self.names[a]} success plan", template=seg,
                objectives="\n".join(tpl.objectives), owner=self.owner[a],
                start_date=start, status="approved", created_at=created.normalize(),
                submitted_at=submitted, decided_at=decided, approver="CS Manager",
                decision_note=None,
                investment=round(float({"enterprise": rng.uniform(20e3, 40e3),
                                        "mid_market": rng.uniform(5e3, 10e3),
                                        "smb": rng.uniform(0, 2e3)}[seg]), -2), version=3))
            done: dict[str, int | None] = {}
            for m in tpl.milestones:
                mid = f"{pid}-{m.key}"
                due = day0 + m.due_day - 1
                slip = rng.exponential(4) + (rng.uniform(10, 25) if rng.random() < 0.15 else 0)
                if failed and m.key == "integration":
                    slip = rng.uniform(30, 80) if rng.random() < 0.5 else 10_000
                dep_done = [done.get(x) for x in m.depends]
                if any(x is None for x in dep_done):
                    fin = None
                else:
                    fin = int(max([due + slip, *[x + 3 for x in dep_done]]))
                    if failed and m.kind in ("value", "checkpoint") and m.key != "kickoff":
                        fin += int(rng.uniform(20, 60))
                done[m.key] = fin if m.rule is None else day0 + m.due_day - 1
                completed = (self.start + fin) if (m.rule is None and fin is not None
                                                   and fin < D) else None
                ms.append(dict(
                    milestone_id=mid, plan_id=pid, name=m.name, phase=m.phase, kind=m.kind,
                    owner=self.owner[a], start_date=start + m.start_day - 1,
                    due_date=start + m.due_day - 1, completed_at=completed,
                    completion_rule=m.rule.format(**counts) if m.rule else None,
                    depends_on=",".join(f"{pid}-{x}" for x in m.depends) or None))
            people = contacts[contacts["account_id"] == self.ids[a]]
            raci = SP.ROLE_RACI
            for _, c in people[people["role"].isin(["executive_sponsor", "champion",
                                                    "decision_maker", "admin"])].iterrows():
                sh.append(dict(stakeholder_id=f"{pid}-{c['contact_id']}", plan_id=pid,
                               contact_id=c["contact_id"], name=c["name"], title=c["title"],
                               side="customer", raci=raci[c["role"]], email=c["email"]))
            sh.append(dict(stakeholder_id=f"{pid}-CSM", plan_id=pid, contact_id=None,
                           name=self.owner[a], title="Customer Success Manager", side="vendor",
                           raci="responsible" if any(
                               r["plan_id"] == pid and r["raci"] == "accountable" for r in sh)
                           else "accountable", email=None))
            factor = rng.uniform(0.15, 0.45) if failed else rng.normal(1.0, 0.15)
            scale = {"enterprise": 4.0, "mid_market": 1.5, "smb": 0.5}[seg]
            for j, (name, unit, base, tgt, vpu) in enumerate((
                    ("Hours on reporting per month", "hours", 160 * scale, 90 * scale, 45 * 12),
                    ("Days to close the month", "days", 10.0, 6.0,
                     float(self.arr0[a]) * 0.06))):
                base_v = round(base * rng.uniform(0.8, 1.2), 1)
                tgt_v = round(base_v * tgt / base, 1)
                vm_id = f"{pid}-V{j + 1}"
                vm.append(dict(metric_id=vm_id, plan_id=pid, name=name, unit=unit,
                               direction="decrease", baseline=base_v, target=tgt_v,
                               target_date=start + 89, value_per_unit=round(vpu, 2),
                               value_per_unit_low=round(vpu * 0.7, 2),
                               value_per_unit_high=round(vpu * 1.25, 2)))
                for t in range(30, min(D - day0, 400), 30):
                    ramp = min(1.0, t / 90.0)
                    v = base_v + (tgt_v - base_v) * ramp * factor * rng.normal(1, 0.08)
                    meas.append(dict(measurement_id=f"{vm_id}-{t}", metric_id=vm_id,
                                     measured_at=start + t, value=round(float(v), 1)))
        out = {"success_plans": pd.DataFrame(plans, columns=[c.name for c in _table("success_plans")]),
               "milestones": pd.DataFrame(ms, columns=[c.name for c in _table("milestones")]),
               "stakeholders": pd.DataFrame(sh, columns=[c.name for c in _table("stakeholders")]),
               "value_metrics": pd.DataFrame(vm, columns=[c.name for c in _table("value_metrics")]),
               "value_measurements": pd.DataFrame(
                   meas, columns=[c.name for c in _table("value_measurements")])}
        for name, cols in (("success_plans", ("start_date", "created_at", "submitted_at",
                                              "decided_at")),
                           ("milestones", ("start_date", "due_date", "completed_at")),
                           ("value_metrics", ("target_date",)),
                           ("value_measurements", ("measured_at",))):
            for c in cols:
                out[name][c] = pd.to_datetime(out[name][c])
        return out

    def _invoices(self) -> pd.DataFrame:
        rng = self.rng
        rows = []
        iid = 0
        period = {"monthly": 1, "quarterly": 3, "annual": 12}
        budget_dip: dict[int, np.ndarray] = {}  # per account, computed once
        for s in self.subs:
            a = s["acc"]
            if a not in budget_dip:
                budget_dip[a] = self._dips(slice(a, a + 1))[3, 0]
            months = period[self.billing[a]]
            start = s["start_date"]
            end = s["end_date"] if s["end_date"] is not None else self.as_of
            k = 0
            while True:
                issued = add_months(np.array([start]), k * months)[0]
                k += 1
                if issued >= end or issued >= self.as_of:
                    break
                if issued < self.start:
                    continue
                d = int((issued - self.start).astype(int))
                budget = budget_dip[a][min(d + 30, self.D - 1)]
                e = self.e[a, min(d + 30, self.D - 1)]
                delay = rng.normal(-6 + 45 * budget + 10 * (1 - e), 6)
                due = issued + 30
                paid = due + int(round(delay))
                iid += 1
                rows.append(dict(invoice_id=f"INV-{iid:07d}", account_id=self.ids[a],
                                 issued_at=issued, due_at=due,
                                 paid_at=paid if paid < self.as_of else None,
                                 amount=round(s["arr"] * months / 12.0, 2)))
        df = pd.DataFrame(rows)
        # DataFlow: the latest invoice was paid 23 days late
        m = df.index[df["account_id"] == DATAFLOW]
        if len(m):
            last = m[df.loc[m, "issued_at"].argmax()]
            df.loc[m, "paid_at"] = df.loc[m, "due_at"] - np.timedelta64(3, "D")
            due = self.as_of - 32
            df.loc[last, ["issued_at", "due_at", "paid_at"]] = [due - 30, due, due + 23]
        for col in ("issued_at", "due_at", "paid_at"):
            df[col] = pd.to_datetime(df[col])
        return df

    def _advocacy(self, surveys: pd.DataFrame) -> None:
        rng = self.rng
        types = np.array(["reference_call", "case_study", "review", "referral", "testimonial",
                          "speaking", "community"])
        tw = [0.28, 0.1, 0.24, 0.16, 0.1, 0.05, 0.07]
        acc_index = {v: i for i, v in enumerate(self.ids)}
        prom = surveys[(surveys["survey"] == "nps") & (surveys["score"] >= 9)]
        rows = []
        aid = 0
        self.referral_opps = []
        for _, r in prom.iterrows():
            a = acc_index[r["account_id"]]
            d0 = int((np.datetime64(r["responded_at"], "D") - self.start).astype(int))
            d = d0 + int(rng.integers(5, 60))
            if d >= self.D or not self._alive_at(np.array([a]), np.array([d]))[0]:
                continue
            if self.e[a, d] < 0.7 or rng.random() > 0.35:
                continue
            kind = types[rng.choice(len(types), p=tw)]
            accepted = rng.random() < 0.65
            status = ("completed" if rng.random() < 0.75 else "accepted") if accepted else "declined"
            if status != "declined" and d > self.D - 21:
                status = "asked"
            value = None
            if kind == "referral" and status == "completed":
                value = float(round(self.arr0[rng.integers(self.A)] * rng.uniform(0.5, 1.5), -2))
                self.referral_opps.append((a, d, value))
            aid += 1
            rows.append(dict(activity_id=f"ADV-{aid:06d}", account_id=r["account_id"],
                             contact_id=r["contact_id"], type=str(kind), status=status,
                             occurred_at=self.start + d, value=value))
        tc = self.contacts_df[self.contacts_df["account_id"] == TECHCORP]
        mike = tc[tc["name"] == "Mike Chen"]["contact_id"]
        for kind, back, status, value in (("case_study", 200, "completed", None),
                                          ("reference_call", 120, "completed", None),
                                          ("speaking", 60, "completed", None),
                                          ("referral", 45, "completed", 240_000.0)):
            if self.D - back < 0:
                continue
            aid += 1
            rows.append(dict(activity_id=f"ADV-{aid:06d}", account_id=TECHCORP,
                             contact_id=mike.iat[0] if len(mike) else None, type=kind,
                             status=status, occurred_at=self.start + (self.D - back), value=value))
            if kind == "referral":
                self.referral_opps.append((0, self.D - back, value))
        df = pd.DataFrame(rows, columns=["activity_id", "account_id", "contact_id", "type",
                                         "status", "occurred_at", "value"])
        df["occurred_at"] = pd.to_datetime(df["occurred_at"])
        self.advocacy_df = df

    # ------------------------------------------------------------------ #
    # frames
    # ------------------------------------------------------------------ #
    def _subscriptions_df(self) -> pd.DataFrame:
        df = pd.DataFrame(self.subs)
        a = df["acc"].to_numpy()
        df["account_id"] = self.ids[a]
        end = df["end_date"]
        df["renewal_date"] = np.where(end.isna(), self.next_renewal[a], end)
        df.loc[df["start_date"] > df["renewal_date"], "renewal_date"] = pd.NaT
        df["plan"] = self.plan[a].astype(str)
        df["mrr"] = (df["arr"] / 12.0).round(2)
        df["arr"] = df["arr"].round(2)
        df["billing_frequency"] = self.billing[a].astype(str)
        df["term_months"] = self.term[a].astype(int)
        df["auto_renew"] = self.auto_renew[a]
        for c in ("start_date", "end_date", "renewal_date"):
            df[c] = pd.to_datetime(df[c])
        return df.drop(columns=["acc", "kind"])[
            ["subscription_id", "account_id", "start_date", "end_date", "renewal_date",
             "term_months", "plan", "seats", "arr", "mrr", "billing_frequency", "auto_renew",
             "status"]]

    def _opportunities_df(self) -> pd.DataFrame:
        rng = self.rng
        opps = list(self.opps)
        # open expansion opportunities on accounts under seat pressure now
        pressure = self.demand_m[:, -1] / np.maximum(self.seats_m[:, -1], 1)
        for a in np.flatnonzero(self.alive & (pressure > 0.8)):
            if a == 1:  # DataFlow: its seats are full by construction, not by growth
                continue
            if a != 0 and rng.random() > 0.45:
                continue
            stage = ["discovery", "qualification", "proposal", "negotiation"][rng.integers(4)]
            prob = {"discovery": 0.1, "qualification": 0.25, "proposal": 0.5, "negotiation": 0.7}[stage]
            cat = "pipeline" if prob < 0.5 else "best_case" if prob < 0.7 else "commit"
            amount = self.final_arr[a] * rng.uniform(0.1, 0.35)
            name = (f"{self.names[a]} - expansion" if a != 0 else
                    "TechCorp Multi-Region Compliance Platform Expansion")
            if a == 0:
                stage, prob, cat, amount = "proposal", 0.6, "best_case", 0.0
            opps.append(dict(acc=a, type="expansion", stage=stage, amount=round(amount, 2),
                             probability=prob, forecast_category=cat,
                             close_date=self.as_of + int(rng.integers(15, 100)), status="open",
                             created_at=self.as_of - int(rng.integers(3, 60)), name=name))
        for a, d, value in self.referral_opps:
            won = rng.random() < 0.35 and d < self.D - 60
            opps.append(dict(acc=a, type="new_business", stage="closed_won" if won else "proposal",
                             amount=value, probability=1.0 if won else 0.4,
                             forecast_category="commit" if won else "pipeline",
                             close_date=(self.start + d + 60) if won else self.as_of + 45,
                             status="won" if won else "open", created_at=self.start + d,
                             name=f"Referral from {self.names[a]}"))
        opps += self.signup_deals
        df = pd.DataFrame(opps)
        df.insert(0, "opportunity_id", [f"OPP-{i + 1:06d}" for i in range(len(df))])
        df.insert(1, "account_id", self.ids[df.pop("acc").to_numpy()])
        for c in ("close_date", "created_at"):
            df[c] = pd.to_datetime(df[c])
        return df

    #: Days before a renewal the CSM calls it, then updates the call (issue 21).
    CALL_LEADS = (100, 35)

    def _forecast_calls_df(self) -> pd.DataFrame:
        """The CSMs' forecast calls on the annual and multi-year renewals: a call about 100
        days before the renewal (so Day 1 of its quarter has one) and an update 35 days
        before, each read from the account's engagement over the 30 days before the call,
        with noise (what a CSM could see then, never the outcome): commit above 0.62,
        best case above 0.5, at risk above 0.38, else lost. Amounts: the ARR due (commit
        with a 4 % uplift above 0.7), half of it at risk, nothing when lost. Their own
        random stream, so the rest of the demo is unchanged."""
        rng = np.random.default_rng(np.random.SeedSequence([self.p.seed, 13]))
        rows: list[dict] = []
        for a, r, arr in self.called_renewals:
            r_day = int((r - self.start).astype(int))
            for lead in self.CALL_LEADS:
                day = r_day - lead + int(rng.integers(0, 8))
                if not 30 <= day < self.D:
                    continue
                e = float(self._window_mean_e(np.array([a]), np.array([day]))[0]) \
                    + rng.normal(0, 0.08)
                call = ("commit" if e > 0.62 else "best_case" if e > 0.5 else
                        "at_risk" if e > 0.38 else "lost")
                amount = {"commit": arr * (1.04 if e > 0.7 else 1.0), "best_case": arr,
                          "at_risk": arr * 0.5, "lost": 0.0}[call]
                rows.append({"account_id": self.ids[a], "renewal_date": pd.Timestamp(r),
                             "call": call, "amount": round(amount, 2), "note": None,
                             "created_by": "demo", "created_at": pd.Timestamp(
                                 self.start + day) + pd.Timedelta(hours=10)})
        df = pd.DataFrame(rows, columns=["account_id", "renewal_date", "call", "amount", "note",
                                         "created_by", "created_at"])
        df.insert(0, "call_id", [f"CALL-{i + 1:06d}" for i in range(len(df))])
        return df

    def _experiment_dfs(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The experiment of :meth:`_experiment` as ``experiments`` and
        ``experiment_assignments`` rows (after :meth:`_actions_df`, for the runs' ids);
        accounts that churned before its start are not in it (their churn came before
        any treatment, so dropping them keeps the arms comparable)."""
        ex_cols = ["experiment_id", "name", "hypothesis", "arms_json", "scope_json", "seed",
                   "start_date", "outcome_days", "min_effect", "alpha", "power", "status",
                   "created_by", "created_at"]
        as_cols = ["experiment_id", "account_id", "arm", "stratum", "action_id"]
        if self.trial_day is None:
            return pd.DataFrame(columns=ex_cols), pd.DataFrame(columns=as_cols)
        eid = "DEMO-EXPERIMENT-1"
        start = self.start + self.trial_day
        rows = [{"experiment_id": eid, "account_id": self.ids[a], "arm": arm,
                 "stratum": self.trial_strata[a], "action_id": self.trial_runs.get(a)}
                for arm, accs in self.trial_arms.items() for a in accs
                if self.churn_day[a] > self.trial_day]
        arms = [{"name": "No playbook", "playbook": None},
                {"name": PLAYBOOKS[EXPERIMENT["playbook"]].name,
                 "playbook": EXPERIMENT["playbook"]}]
        ex = pd.DataFrame([{
            "experiment_id": eid, "name": EXPERIMENT["name"],
            "hypothesis": "Running the 14-day retention playbook as soon as an account's "
                          "usage dips keeps more of them than leaving the dip alone.",
            "arms_json": json.dumps(arms), "scope_json": json.dumps(
                {"segment": None, "accounts": [], "rule": "in a usage dip"}),
            "seed": EXPERIMENT["seed"], "start_date": start,
            "outcome_days": EXPERIMENT["outcome_days"], "min_effect": 0.05, "alpha": 0.05,
            "power": 0.8, "status": "running", "created_by": "demo",
            "created_at": pd.Timestamp(start) + pd.Timedelta(hours=9)}], columns=ex_cols)
        return ex, pd.DataFrame(rows, columns=as_cols)

    def _actions_df(self) -> pd.DataFrame:
        """The CSM history of :meth:`_interventions` as ``actions`` rows: one
        ``playbook_run`` per run and one ``playbook_step`` per step (as
        :func:`greendoor.actions.start_playbook` writes them), created on the run's start
        day by the account's CSM. Steps due before the as-of date are done 0-3 days after
        their due date, or still open (20 % of those due in the last 3 weeks, 0.3 % of older
        ones); a run is done when all its steps are."""
        rng = np.random.default_rng(np.random.SeedSequence([self.p.seed, 12]))
        rows: list[dict] = []
        treated = set(self.trial_arms.get(EXPERIMENT["playbook"], []))
        self.trial_runs: dict[int, str] = {}
        for a, key, start, base in self.playbook_runs:
            pb = PLAYBOOKS[key]
            owner = str(self.owner[a])
            created = pd.Timestamp(self.start + start) + pd.Timedelta(hours=9)
            run_id = f"DEMO-RUN-{len(rows) + 1:06d}"
            if a in treated and key == EXPERIMENT["playbook"] and start == self.trial_day:
                self.trial_runs[a] = run_id
            steps, all_done = [], True
            for i, step in enumerate(pb.steps):
                due = max(base + step.offset_days, start)
                # most steps get done; the ones still open are mostly the recent ones
                p_open = 0.2 if self.D - due <= 21 else 0.003
                done = due < self.D and rng.random() >= p_open
                all_done &= bool(done)
                finished = min(due + int(rng.integers(0, 4)), self.D - 1)
                steps.append(dict(
                    action_id=f"{run_id}-{i + 1}", account_id=self.ids[a], type="playbook_step",
                    title=step.title, owner=owner if step.owner_role == "csm" else
                    f"{human(step.owner_role)} ({owner})", due_date=self.start + due,
                    status="done" if done else "open", playbook=key, parent_action_id=run_id,
                    payload_json=json.dumps({"step": i + 1, "role": step.owner_role}),
                    created_at=created, completed_at=(pd.Timestamp(self.start + finished)
                                                      + pd.Timedelta(hours=17)) if done else None))
            last = base + max(st.offset_days for st in pb.steps)
            rows.append(dict(
                action_id=run_id, account_id=self.ids[a], type="playbook_run",
                title=f"{pb.name}: {self.names[a]}", owner=owner, due_date=self.start + last,
                status="done" if all_done else "open", playbook=key, parent_action_id=None,
                payload_json=json.dumps({"start": str(self.start + start),
                                         "base": str(self.start + base)}),
                created_at=created, completed_at=max(x["completed_at"] for x in steps)
                if all_done else None))
            rows += steps
        cols = ["action_id", "account_id", "type", "title", "owner", "due_date", "status",
                "playbook", "parent_action_id", "note", "payload_json", "created_by",
                "created_at", "updated_at", "completed_at"]
        df = pd.DataFrame(rows).reindex(columns=cols)
        df["created_by"] = "demo"
        df["due_date"] = pd.to_datetime(df["due_date"]).dt.date
        return df

    def _churn_df(self) -> pd.DataFrame:
        rng = self.rng
        reason_by_chan = {
            0: (["features", "competitor"], [0.55, 0.45]),
            1: (["support", "features"], [0.75, 0.25]),
            2: (["competitor", "other"], [0.6, 0.4]),
            3: (["budget", "pricing"], [0.6, 0.4]),
            -1: (["budget", "pricing", "other", "competitor"], [0.35, 0.25, 0.25, 0.15]),
        }
        rows = []
        for i, ch in enumerate(self.churn):
            a, d = ch["acc"], ch["day"]
            ep = self.ep
            active = ep["on"][a] & (ep["start"][a] <= d) & (d <= ep["end"][a] + 30)
            if active.any():
                k = np.flatnonzero(active)[np.argmax(ep["depth"][a][active])]
                chan = int(ep["chan"][a, k])
            else:
                chan = -1
            opts, w = reason_by_chan[chan]
            reason = opts[rng.choice(len(opts), p=w)]
            fb = N.CHURN_FEEDBACK[reason]
            rows.append(dict(churn_event_id=f"CHN-{i + 1:06d}", account_id=self.ids[a],
                             churn_date=self.start + d, reason=reason,
                             arr_lost=round(ch["arr_lost"], 2), feedback=fb[rng.integers(len(fb))],
                             refund_amount=0.0, is_reactivation=False))
        df = pd.DataFrame(rows, columns=["churn_event_id", "account_id", "churn_date", "reason",
                                         "arr_lost", "feedback", "refund_amount",
                                         "is_reactivation"])
        df["churn_date"] = pd.to_datetime(df["churn_date"])
        return df

    def _scale_archetype_money(self, out: dict[str, pd.DataFrame]) -> None:
        """Scale the archetypes' money so their current ARR is exactly the seeds'."""
        subs = out["subscriptions"]
        for acc, target in ((TECHCORP, 875_000.0), (DATAFLOW, 180_000.0)):
            mine = subs["account_id"] == acc
            current = subs.loc[mine & subs["end_date"].isna(), "arr"].sum()
            if current <= 0:
                continue
            f = target / current
            subs.loc[mine, "arr"] = (subs.loc[mine, "arr"] * f).round(2)
            subs.loc[mine, "mrr"] = (subs.loc[mine, "arr"] / 12.0).round(2)
            inv = out["invoices"]["account_id"] == acc
            out["invoices"].loc[inv, "amount"] = (out["invoices"].loc[inv, "amount"] * f).round(2)
            fc = out["forecast_calls"]
            fc.loc[fc["account_id"] == acc, "amount"] = (
                fc.loc[fc["account_id"] == acc, "amount"] * f).round(2)
            op = out["opportunities"]
            mo = (op["account_id"] == acc) & (op["type"] != "new_business")
            op.loc[mo, "amount"] = (op.loc[mo, "amount"] * f).round(2)
            if acc == TECHCORP:
                exp = mo & (op["status"] == "open") & (op["type"] == "expansion")
                op.loc[exp, "amount"] = 250_000.0


def generate(params: DemoParams | None = None, usage_sink=None) -> dict[str, pd.DataFrame]:
    """Generate a demo portfolio: ``{table name: DataFrame}`` for every canonical table.

    Deterministic for ``(seed, n_accounts, months, as_of, segment_mix)``. With
    ``usage_sink`` (a callable taking a DataFrame) the usage rows are handed over in
    chunks of :data:`CHUNK_ACCOUNTS` accounts as they are simulated and
    ``result["usage"]`` is empty: the rows are the same, in the same order, and peak
    memory no longer grows with the usage table. Raises ``ValueError`` for fewer than
    2 accounts, 3 months or an invalid ``segment_mix``.
    """
    return _Simulation(params or DemoParams()).run(usage_sink)
