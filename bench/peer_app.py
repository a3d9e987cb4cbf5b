"""The peer for ``bench/pages_browser.py``: a portfolio page as an analyst would write it
in plain Streamlit in an afternoon, on the same store: an as-of date in the sidebar (bound
to the URL, as Greendoor's is), one cached DuckDB query for the latest score snapshot on
or before it, four figures, two Plotly charts and the account table. No sign-in, no
masking, no audit, no drill-down: the least a Streamlit dashboard of this store does, so
its times are the floor the browser, Streamlit and this machine put under every page.

    GREENDOOR_DB_URL=duckdb:///STORE.duckdb streamlit run bench/peer_app.py
"""

from __future__ import annotations

import datetime as dt
import os

import duckdb
import pandas as pd
import plotly.express as px
import streamlit as st

PATH = os.environ["GREENDOOR_DB_URL"].split("duckdb:///", 1)[1]


@st.cache_data
def last_date() -> dt.date:
    with duckdb.connect(PATH, read_only=True) as c:
        return c.execute("select max(as_of) from score_snapshots").fetchone()[0]


@st.cache_data
def snapshot(as_of: dt.date) -> pd.DataFrame:
    with duckdb.connect(PATH, read_only=True) as c:
        return c.execute(
            "select s.account_id, a.name, a.segment, a.csm_owner, s.health_score, s.band, "
            "s.arr, s.churn_probability, s.days_to_renewal from score_snapshots s "
            "join accounts a using (account_id) where s.as_of = "
            "(select max(as_of) from score_snapshots where as_of <= ?)", [as_of]).df()


st.set_page_config(page_title="Peer: portfolio", layout="wide")
end = last_date()
as_of = st.sidebar.date_input("As-of date", value=end, min_value=end - dt.timedelta(days=1095),
                              max_value=end, key="as_of", bind="query-params")
df = snapshot(as_of)
st.title("Portfolio health")
a, b, c, d = st.columns(4)
a.metric("Accounts", f"{len(df):,}")
b.metric("ARR", f"${df['arr'].sum() / 1e6:,.1f}M")
c.metric("Median health score", f"{df['health_score'].median():.0f}")
d.metric("ARR in red accounts", f"${df.loc[df['band'] == 'red', 'arr'].sum() / 1e6:,.1f}M")
left, right = st.columns(2)
left.plotly_chart(px.histogram(df, x="health_score", color="band", nbins=20))
by_segment = df.groupby(["segment", "band"], as_index=False)["arr"].sum()
right.plotly_chart(px.bar(by_segment, x="segment", y="arr", color="band"))
st.dataframe(df.sort_values("churn_probability", ascending=False), hide_index=True,
             column_order=["name", "segment", "csm_owner", "health_score", "band", "arr",
                           "churn_probability", "days_to_renewal"])
