"""Read models of the analytics pages (SPEC.md "Pages" 3-7): expansion, renewals,
advocacy, segmentation and behavior. Aggregation runs in the store; each function
returns small frames ready to plot, filtered like every other figure
(:class:`greendoor.periods.Filters`)."""
