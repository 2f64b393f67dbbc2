"""Words of the finance pages (Bulgarian first, English).

`problem_<code>`: the billing service's refusals (docs/finance.md lists the codes), with `{placeholders}` filled
from the problem's members.
"""

WORDS: dict[str, dict[str, str]] = {
    "bg": {
        "fi_status_closed": "Приключени",
        "fi_status_open": "Текущи",
        "fi_duration_hms": "Продължителност (ч:мм:сс)",
        "fi_exports": "Изтегляне",
        "fi_export_shown": "Показаните записи (CSV)",
        "fi_export_period": "Приключени през периода (CSV)",
        "fi_export_credits": "Кредитни известия за периода (CSV)",
        "fi_export_help": (
            "„Показаните записи“ следват филтъра (по начало на сесията) и носят кредитираното. "
            "„Приключени през периода“ е отчетът по дата на приключване: един и същ, когато и да е изтеглен. "
            "Кредитните известия са по дата на издаване. Файловете са UTF-8 с „;“ и десетична запетая."
        ),
        "fi_period": "Период: {start} – {end}.",
        "fi_listed": "(показани са първите {count})",
        "fi_totals_all": "Общо за всички {count}",
        "fi_open_note": "Отвори известие {number}",
        "fi_export_failed": "Изтеглянето не е възможно",
        "fi_error_unavailable": "Услугата за фактуриране не отговаря. Опитайте отново след малко.",
        "fi_error_other": "Действието не е извършено: {detail}",
        "fi_note_title": "Кредитно известие",
        "fi_note_unavailable": "Кредитното известие не може да бъде показано",
        "fi_back_to_finance": "Обратно към финансите",
        "fi_print_hint": "За печат: Ctrl+P.",
        "fi_note_date": "Дата на издаване",
        "fi_note_issuer": "Издател",
        "fi_note_issued_by": "Издадено от",
        "fi_note_customer": "Получател",
        "fi_note_credits_record": "Кредитира",
        "fi_note_session": "Сесия",
        "fi_note_record": "Запис",
        "fi_note_period": "Време",
        "fi_note_original": "Първоначална сума по записа",
        "fi_note_amount": "Сума на известието",
        "fi_note_total": "Общо за кредитиране",
        "fi_note_foot": "Кредитно известие {number} (идентификатор {credit_id}). Записът не се променя; "
        "дължимото е сумата по записа минус кредитираното.",
        "problem_credit_amount_invalid": "Сумата трябва да е число с до два знака след запетаята, например 10,50.",
        "problem_credit_amount_not_positive": "Сумата трябва да е по-голяма от 0,00.",
        "problem_credit_reason_too_short": "Основанието трябва да е поне {min} знака.",
        "problem_credit_reason_too_long": "Основанието може да е най-много {max} знака.",
        "problem_credit_over_remaining": "Сумата {amount} е повече от оставащите за кредитиране {remaining}.",
        "problem_credit_record_open": "Сесията още тече: кредит се издава само по приключен запис.",
        "problem_credit_record_unknown": "Няма такъв запис за фактуриране.",
        "problem_credit_id_reused": (
            "Този формуляр вече е използван за друго кредитно известие. Презаредете страницата."
        ),
        "problem_credit_note_unknown": "Няма такова кредитно известие.",
        "problem_export_too_large": "Записите са твърде много за един файл: стеснете филтъра или периода.",
    },
    "en": {
        "fi_status_closed": "Closed",
        "fi_status_open": "Running",
        "fi_duration_hms": "Duration (h:mm:ss)",
        "fi_exports": "Downloads",
        "fi_export_shown": "Records shown (CSV)",
        "fi_export_period": "Closed in the period (CSV)",
        "fi_export_credits": "Credit notes of the period (CSV)",
        "fi_export_help": (
            "“Records shown” follows the filter (by session start) and carries what is credited. "
            "“Closed in the period” is the report by end date: the same whenever it is taken. "
            "Credit notes go by issue date. The files are UTF-8 with “;” and a decimal comma."
        ),
        "fi_period": "Period: {start} – {end}.",
        "fi_listed": "(the first {count} are listed)",
        "fi_totals_all": "Totals of all {count}",
        "fi_open_note": "Open credit note {number}",
        "fi_export_failed": "The download is not possible",
        "fi_error_unavailable": "The billing service does not answer. Try again shortly.",
        "fi_error_other": "Nothing was done: {detail}",
        "fi_note_title": "Credit note",
        "fi_note_unavailable": "The credit note cannot be shown",
        "fi_back_to_finance": "Back to finance",
        "fi_print_hint": "To print: Ctrl+P.",
        "fi_note_date": "Date of issue",
        "fi_note_issuer": "Issuer",
        "fi_note_issued_by": "Issued by",
        "fi_note_customer": "Customer",
        "fi_note_credits_record": "Credits",
        "fi_note_session": "Session",
        "fi_note_record": "Record",
        "fi_note_period": "Time",
        "fi_note_original": "Original amount of the record",
        "fi_note_amount": "Amount of this note",
        "fi_note_total": "Total credited",
        "fi_note_foot": "Credit note {number} (id {credit_id}). The record itself is not changed; "
        "what is owed is the record's amount less what is credited.",
        "problem_credit_amount_invalid": "The amount must be a number with at most two decimals, like 10.50.",
        "problem_credit_amount_not_positive": "The amount must be more than 0.00.",
        "problem_credit_reason_too_short": "The reason must be at least {min} characters.",
        "problem_credit_reason_too_long": "The reason may be at most {max} characters.",
        "problem_credit_over_remaining": "The amount {amount} is more than the {remaining} left to credit.",
        "problem_credit_record_open": "The session is still running: only a closed record can be credited.",
        "problem_credit_record_unknown": "There is no such billing record.",
        "problem_credit_id_reused": "This form was already used for another credit note. Reload the page.",
        "problem_credit_note_unknown": "There is no such credit note.",
        "problem_export_too_large": "Too many records for one file: narrow the filter or the period.",
    },
}
