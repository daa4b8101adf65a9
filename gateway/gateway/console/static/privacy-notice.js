/* The privacy notice an operator reads out before registering a caller, word for word. Its version is what a
   registration records as the caller's consent (consent.version): a changed text is a new version here, so
   every resident's record says which words they agreed to. */
"use strict";

window.LINLI_PRIVACY_NOTICE = {
  version: "2026-11",
  "zh-CN": {
    title: "个人信息处理告知书",
    intro: "请逐段读给来电居民听，读完后询问居民是否同意：",
    paragraphs: [
      "您好，为了给您提供社区服务，本区社区服务平台“邻里”需要登记您的个人信息。",
      "我们会记录您的姓名、电话号码和所在社区；您愿意提供的话，还会记录身份证号码、住址、紧急联系人，以及" +
        "80岁以上、独居、残疾、低收入等补贴资格。",
      "这些信息只用于：为您预约和安排社区服务，核对您能否享受政府补贴的服务，服务有变动时通知您，" +
        "以及紧急情况下联系您的紧急联系人。",
      "为您提供服务的机构只会看到完成这次服务需要的信息。身份证号码加密保存，平时只显示部分号码。",
      "您可以随时拨打本热线查询、复制或更正您的信息，也可以撤回同意、要求删除您的个人信息；删除后，" +
        "已完成的服务记录只以不能识别您的方式保留。",
      "请问您同意我们按上述方式处理您的个人信息吗？",
    ],
  },
  en: {
    title: "Privacy notice",
    intro: "Read it to the caller paragraph by paragraph, then ask whether they agree:",
    paragraphs: [
      "Hello. To provide community services to you, Linli, the district's community service platform, needs to " +
        "register your personal information.",
      "We record your name, phone number and community; if you wish to give them, also your ID number, address, " +
        "an emergency contact, and eligibility for subsidies such as being 80 or over, living alone, having a " +
        "disability or a low income.",
      "This information is used only to book and arrange community services for you, to check whether you are " +
        "eligible for government-funded services, to tell you when a service changes, and to reach your " +
        "emergency contact in an emergency.",
      "The provider serving you sees only what it needs for that service. Your ID number is stored encrypted and " +
        "shown only in part.",
      "You may call this hotline at any time to see, copy or correct your information, or to withdraw your " +
        "consent and have your personal information deleted; completed services are then kept only in a form " +
        "that does not identify you.",
      "Do you agree that we process your personal information as described?",
    ],
  },
};
