"""What is due and when: reminders, expiry warnings and the daily ledger.

- ``due``: what is due on a day and what of it is done (pure; shared by the jobs and
  ``canteen-agent today``);
- ``expiry``: certificates, licences and ingredients close to their expiry date;
- ``reminders``: the alarms (kind, subject, bilingual message) for overdue duties;
- ``ledger``: the day's summary record (``daily_ledger``), written once per day;
- ``engine``: ``ScheduleEngine.tick(now)``, the idempotent evaluation at the core;
- ``scheduler``: the apscheduler component that triggers ``tick`` at the deadlines.
"""
