"""Words of the session view pages (Bulgarian first, English)."""

WORDS: dict[str, dict[str, str]] = {
    "bg": {
        # The screen pane's tools
        "sv_screen_tools": "Изглед на екрана",
        "sv_fullscreen": "Цял екран",
        "sv_exit_fullscreen": "Изход от цял екран",
        "sv_actual_size": "Реален размер (1:1)",
        "sv_full_width": "На цялата ширина",
        "sv_screen_size": "Екранът на клиента: {width}×{height}, показан в {percent}%",
        "sv_fullscreen_unavailable": "Браузърът не позволи цял екран.",
        # A consent without `control`
        "sv_view_only": (
            "Само преглед: клиентът не е разрешил управление. Виждате екрана и терминала му, "
            "но не можете да пишете в терминала, нито да управлявате мишката и клавиатурата."
        ),
        "sv_view_only_short": "само преглед",
        "sv_control_withdrawn": (
            "Клиентът оттегли разрешението за управление: от сега само преглед. Екранът и терминалът остават."
        ),
        # Asking a view-only customer for control (a step up, #16): the reason is shown to the customer as written
        "sv_step_up_title": "Поискайте управление",
        "sv_step_up_reason": "Защо ви е нужно управление (клиентът ще прочете това)",
        "sv_step_up_ask": "Поискай управление",
        "sv_step_up_reason_required": "Напишете защо ви е нужно управление.",
        "sv_step_up_reason_too_long": "Причината е твърде дълга (най-много {max} знака).",
        "sv_step_up_failed": "Искането не беше изпратено: {detail}",
        "sv_step_up_pending": "Изчаква се отговор от клиента…",
        "sv_step_up_approved": "Клиентът разреши управление: вече можете да пишете и да управлявате.",
        "sv_step_up_refused": "Клиентът отказа управление. Можете да поискате отново с ново искане.",
        # The chat with the customer (#17): the customer writes in their language, the consultant in theirs; each
        # message is shown as typed
        "sv_chat_title": "Чат с клиента",
        "sv_chat_messages": "Съобщения",
        "sv_chat_empty": "Още няма съобщения.",
        "sv_chat_label": "Съобщение до клиента",
        "sv_chat_placeholder": "Напишете съобщение…",
        "sv_chat_keys_hint": "Enter изпраща, Shift+Enter започва нов ред.",
        "sv_chat_send": "Изпрати",
        "sv_chat_you": "Вие",
        "sv_chat_customer": "Клиент",
        "sv_chat_consultant": "Консултант",
        "sv_chat_jump": "Чат",
        "sv_chat_unread": "Непрочетени съобщения: {count}",
        "sv_chat_sound_on": "Звук: вкл.",
        "sv_chat_sound_off": "Звук: изкл.",
        "sv_chat_sound_hint": "Кратък сигнал при съобщение от клиента (и при нова заявка в конзолата)",
        "sv_chat_read_only": "Само преглед: наблюдаващият не пише в чата.",
        "sv_chat_closed": "Чатът е затворен: сесията приключи.",
        "sv_chat_err_empty": "Напишете съобщение.",
        "sv_chat_err_too_long": "Съобщението е твърде дълго (най-много {max} знака).",
        "sv_chat_failed": "Съобщението не беше изпратено: {detail}",
        "sv_chat_load_failed": "Чатът не може да се зареди: {detail}",
        "sv_chat_queue_count": "Съобщения в чата: {count}",
        # Ending from the session page
        "sv_end_question": (
            "Да приключа ли сесията с {customer}? Терминалът и екранът на клиента се прекъсват веднага "
            "и сесията се отчита за таксуване. Това не може да се отмени."
        ),
        "sv_end_confirm": "Да, приключи сесията",
        # A supervisor watching a session, view only (#16), and the consultant told who watches
        "sv_observer_title": "Наблюдение на сесия",
        "sv_observer_notice": "Наблюдавате само с преглед; клиентът вижда, че наблюдавате.",
        "sv_observer_short": "наблюдение",
        "sv_observers_note": "Наблюдава: {names}",
        "sv_back_to_supervisor": "Обратно към активните сесии",
        # The relay's close codes and notices, in words
        "sv_close_4401": "Входът ви е приключил (излязохте или срокът му изтече): влезте отново и отворете сесията пак.",
        "sv_login_again": "Влезте отново",
        "sv_close_4403": (
            "Нямате достъп до тази сесия (тя е поета от друг консултант или съгласието е оттеглено)."
        ),
        "sv_close_4409": "Сесията е отворена в друг прозорец или раздел; този вече не е свързан.",
        "sv_ended_by_system": "Системата приключи сесията.",
        "sv_ended_agent_lost": "Системата приключи сесията: агентът на клиента не се върна навреме.",
        "sv_refused_terminal": "Въвеждането в терминала не е разрешено от съгласието на клиента.",
        "sv_refused_input": "Управлението на мишката и клавиатурата не е разрешено от съгласието на клиента.",
        "sv_refused_other": "Агентът отказа това действие.",
    },
    "en": {
        "sv_screen_tools": "Screen view",
        "sv_fullscreen": "Full screen",
        "sv_exit_fullscreen": "Exit full screen",
        "sv_actual_size": "Actual size (1:1)",
        "sv_full_width": "Full width",
        "sv_screen_size": "The customer's screen: {width}×{height}, shown at {percent}%",
        "sv_fullscreen_unavailable": "The browser did not allow full screen.",
        "sv_view_only": (
            "View only: the customer has not allowed control. You see their screen and terminal "
            "but cannot type in the terminal or use the mouse and keyboard."
        ),
        "sv_view_only_short": "view only",
        "sv_control_withdrawn": (
            "The customer took control back: from now on you can only watch. The screen and terminal stay."
        ),
        "sv_step_up_title": "Ask for control",
        "sv_step_up_reason": "Why you need control (the customer will read this)",
        "sv_step_up_ask": "Ask for control",
        "sv_step_up_reason_required": "Write why you need control.",
        "sv_step_up_reason_too_long": "The reason is too long (at most {max} characters).",
        "sv_step_up_failed": "The request was not sent: {detail}",
        "sv_step_up_pending": "Waiting for the customer…",
        "sv_step_up_approved": "The customer approved: you can now type and control.",
        "sv_step_up_refused": "The customer refused. You may ask again with a new request.",
        "sv_chat_title": "Chat with the customer",
        "sv_chat_messages": "Messages",
        "sv_chat_empty": "No messages yet.",
        "sv_chat_label": "Message to the customer",
        "sv_chat_placeholder": "Write a message…",
        "sv_chat_keys_hint": "Enter sends, Shift+Enter starts a new line.",
        "sv_chat_send": "Send",
        "sv_chat_you": "You",
        "sv_chat_customer": "Customer",
        "sv_chat_consultant": "Consultant",
        "sv_chat_jump": "Chat",
        "sv_chat_unread": "Unread messages: {count}",
        "sv_chat_sound_on": "Sound: on",
        "sv_chat_sound_off": "Sound: off",
        "sv_chat_sound_hint": "A short beep for each message of the customer (and each new request in the console)",
        "sv_chat_read_only": "View only: a watcher does not write in the chat.",
        "sv_chat_closed": "The chat is closed: the session has ended.",
        "sv_chat_err_empty": "Write a message first.",
        "sv_chat_err_too_long": "The message is too long (at most {max} characters).",
        "sv_chat_failed": "The message was not sent: {detail}",
        "sv_chat_load_failed": "The chat cannot be loaded: {detail}",
        "sv_chat_queue_count": "Chat messages: {count}",
        "sv_end_question": (
            "End the session with {customer}? The customer's terminal and screen are disconnected at once "
            "and the session is recorded for billing. This cannot be undone."
        ),
        "sv_end_confirm": "Yes, end the session",
        "sv_observer_title": "Watching a session",
        "sv_observer_notice": "You are watching, view only; the customer sees that you are watching.",
        "sv_observer_short": "watching",
        "sv_observers_note": "Watching: {names}",
        "sv_back_to_supervisor": "Back to the active sessions",
        "sv_close_4401": "Your login has ended (you logged out, or it expired): log in again and open the session again.",
        "sv_login_again": "Log in again",
        "sv_close_4403": (
            "You have no access to this session (another consultant has it, or the consent was withdrawn)."
        ),
        "sv_close_4409": "The session is open in another window or tab; this one is no longer connected.",
        "sv_ended_by_system": "The system ended the session.",
        "sv_ended_agent_lost": (
            "The system ended the session: the customer's agent did not come back in time."
        ),
        "sv_refused_terminal": "Typing in the terminal is not allowed by the customer's consent.",
        "sv_refused_input": "Mouse and keyboard control is not allowed by the customer's consent.",
        "sv_refused_other": "The agent refused this action.",
    },
}
