"""Mass mailing (ADM-2): templated mails to a selection of contacts, throttled, with one-click unsubscribe."""
